using L2tp.Fuzz;
using SharpFuzz;

// l2tp-fuzz TARGET             under afl-fuzz: the persistent fork server; otherwise one input from stdin
// l2tp-fuzz TARGET PATH...     replays files (or every file of folders), exit 1 when any fails
// l2tp-fuzz seeds FOLDER       writes the hand-made seed corpus, one subfolder per target
if (args.Length == 0 || (args[0] != "seeds" && !FuzzTargets.Names.Contains(args[0])))
{
    Console.Error.WriteLine($"usage: L2tp.Fuzz <{string.Join("|", FuzzTargets.Names)}> [input files or folders...] | seeds <folder>");
    return 2;
}
if (args[0] == "seeds")
{
    if (args.Length != 2)
    {
        Console.Error.WriteLine("usage: L2tp.Fuzz seeds <folder>");
        return 2;
    }
    int written = Seeds.Write(args[1]);
    Console.WriteLine($"wrote {written} seed files under {args[1]}");
    return 0;
}

string target = args[0];
if (Environment.GetEnvironmentVariable("__AFL_SHM_ID") is null)
    GiveInstrumentationAMap();
if (args.Length == 1)
{
    // Persistent mode: one process runs input after input, as fast as the targets allow. The targets rebuild their
    // state for each input, so no input sees what the last one left.
    Fuzzer.Run(stream =>
    {
        using var ms = new MemoryStream();
        stream.CopyTo(ms);
        FuzzTargets.Run(target, ms.GetBuffer().AsSpan(0, (int)ms.Length));
    });
    return 0;
}

var files = args.Skip(1).SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p).OrderBy(f => f, StringComparer.Ordinal).ToArray() : new[] { p }).ToList();
int failed = 0;
foreach (var file in files)
{
    try
    {
        FuzzTargets.Run(target, File.ReadAllBytes(file));
    }
    catch (Exception e)
    {
        failed++;
        Console.WriteLine($"FAIL {target} {file}: {e}");
    }
}
Console.WriteLine($"{target}: {files.Count - failed} of {files.Count} inputs passed");
return failed == 0 ? 0 : 1;

// Instrumented assemblies write every branch into AFL's shared map; run outside afl-fuzz (a replay, a reproduction
// from stdin), they would write through a null pointer. A private map lets the same build replay what it found.
static unsafe void GiveInstrumentationAMap()
{
    if (SharpFuzz.Common.Trace.SharedMem == null)
        SharpFuzz.Common.Trace.SharedMem = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(65536);
}

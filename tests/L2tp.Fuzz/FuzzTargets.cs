namespace L2tp.Fuzz;

/// <summary>The fuzz targets by name: what the fuzz executable, the build script and the corpus tests all run.</summary>
public static class FuzzTargets
{
    /// <summary>Target names, also the corpus folder names under tests/fuzz/corpus.</summary>
    public static readonly IReadOnlyList<string> Names = new[] { "rx", "gro", "control" };

    /// <summary>Runs one input through a target; throws when the code under test throws or an invariant breaks.</summary>
    public static void Run(string target, ReadOnlySpan<byte> input)
    {
        switch (target)
        {
            case "rx": RxTarget.Run(input); break;
            case "gro": GroTarget.Run(input); break;
            case "control": ControlTarget.Run(input); break;
            default: throw new ArgumentException($"unknown fuzz target '{target}' (targets: {string.Join(", ", Names)})", nameof(target));
        }
    }
}

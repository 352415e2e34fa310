using System.Text.RegularExpressions;

namespace L2tp.HelpGen;

/// <summary>
/// L2tp.HelpGen: platyPS-format Markdown in, MAML out, checked against the real cmdlets.
///
///   L2tp.HelpGen --manifest L2tp.psd1 --docs en-US/docs --assembly out/L2tp/bin/L2tp.dll --output en-US/L2tp.dll-Help.xml
///
/// Exit codes: 0 written; 1 the help is incomplete or wrong (every problem is listed, nothing is written);
/// 2 bad arguments or unreadable input.
/// </summary>
internal static class Program
{
    private const string Usage =
        "usage: L2tp.HelpGen --manifest MODULE.psd1 --docs DIR --assembly MODULE.dll [--output FILE-Help.xml] [--reference DLL]... [--print-syntax] [--scaffold]\n" +
        "  --scaffold      write a starting docs/NAME.md (real syntax and metadata, {{ placeholders }}) for each exported cmdlet that has none\n" +
        "  --print-syntax  print the SYNTAX lines the PARAMETERS metadata implies";

    private static int Main(string[] args)
    {
        string? manifest = null, docs = null, assembly = null, output = null;
        var references = new List<string>();
        bool printSyntax = false, scaffold = false;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            try
            {
                switch (args[i])
                {
                    case "--manifest": manifest = Next(); break;
                    case "--docs": docs = Next(); break;
                    case "--assembly": assembly = Next(); break;
                    case "--output": output = Next(); break;
                    case "--reference": references.Add(Next()); break;
                    case "--print-syntax": printSyntax = true; break;
                    case "--scaffold": scaffold = true; break;
                    case "-h" or "--help": Console.WriteLine(Usage); return 0;
                    default: throw new ArgumentException($"unknown argument '{args[i]}'.");
                }
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"L2tp.HelpGen: {e.Message}\n{Usage}");
                return 2;
            }
        }
        if (manifest is null || docs is null || assembly is null)
        {
            Console.Error.WriteLine($"L2tp.HelpGen: --manifest, --docs and --assembly are required.\n{Usage}");
            return 2;
        }

        try
        {
            return Run(manifest, docs, assembly, output, references, printSyntax, scaffold);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or BadImageFormatException or InvalidDataException)
        {
            Console.Error.WriteLine($"L2tp.HelpGen: {e.Message}");
            return 2;
        }
    }

    private static int Run(string manifest, string docs, string assembly, string? output, List<string> references, bool printSyntax, bool scaffold)
    {
        string moduleName = Path.GetFileNameWithoutExtension(manifest);
        string helpFileName = Path.GetFileName(assembly) + "-Help.xml";
        if (output is not null && !string.Equals(Path.GetFileName(output), helpFileName, StringComparison.Ordinal))
            Console.Error.WriteLine($"L2tp.HelpGen: warning: Get-Help looks for {helpFileName}, not {Path.GetFileName(output)}.");
        if (!Directory.Exists(docs))
            throw new DirectoryNotFoundException($"no help folder {docs}.");

        var real = CmdletReflector.Read(assembly, references);
        var exported = ExportedCmdlets(manifest, real.Keys);
        var diag = new Diagnostics();

        if (scaffold)
            foreach (string name in exported)
            {
                string path = Path.Combine(docs, name + ".md");
                if (File.Exists(path) || !real.TryGetValue(name, out var cmdlet))
                    continue;
                File.WriteAllText(path, Scaffold.Create(cmdlet, moduleName, helpFileName, Path.ChangeExtension(assembly, ".xml")));
                Console.WriteLine($"L2tp.HelpGen: wrote {path}: replace its {{{{ placeholders }}}}.");
            }

        var files = Directory.EnumerateFiles(docs, "*.md").Order(StringComparer.Ordinal).ToList();
        var helps = new List<CommandHelp>();
        foreach (string f in files)
        {
            string name = Path.GetFileNameWithoutExtension(f);
            if (name.StartsWith("about_", StringComparison.OrdinalIgnoreCase) || name.Equals("README", StringComparison.OrdinalIgnoreCase))
                continue;
            var help = MarkdownHelpReader.Read(f, diag);
            if (!exported.Contains(help.Name, StringComparer.OrdinalIgnoreCase))
            {
                diag.Error(f, 0, $"{help.Name} is not exported by {Path.GetFileName(manifest)} (CmdletsToExport): remove the file or export the cmdlet.");
                continue;
            }
            real.TryGetValue(help.Name, out var cmdlet);
            HelpValidator.Validate(help, cmdlet, moduleName, helpFileName, diag);
            helps.Add(help);
        }
        foreach (string name in exported)
            if (!helps.Any(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase)))
                diag.Error(Path.Combine(docs, name + ".md"), 0,
                    $"missing: {Path.GetFileName(manifest)} exports {name} but it has no help file (platyPS Markdown; --scaffold writes a start).");

        if (printSyntax)
            foreach (var h in helps)
                foreach (string set in HelpValidator.Sets(h))
                    Console.WriteLine(HelpValidator.RenderSyntax(h, set));

        if (diag.Errors.Count > 0)
        {
            foreach (string e in diag.Errors)
                Console.Error.WriteLine(e);
            Console.Error.WriteLine($"L2tp.HelpGen: {diag.Errors.Count} problem(s) in the help under {docs}; {(output is null ? "nothing to write (no --output)" : $"{output} was not written")}.");
            return 1;
        }

        // Manifest order: Get-Help lists nothing by it, but a reader of the XML finds the cmdlets as the module lists them.
        helps = helps.OrderBy(h => exported.FindIndex(e => string.Equals(e, h.Name, StringComparison.OrdinalIgnoreCase))).ToList();
        if (output is not null)
        {
            MamlWriter.Write(helps, output);
            Console.WriteLine($"L2tp.HelpGen: {helps.Count} cmdlets, {helps.Sum(h => h.Parameters.Count)} parameters, " +
                $"{helps.Sum(h => h.Examples.Count)} examples -> {output}");
        }
        else
            Console.WriteLine($"L2tp.HelpGen: {helps.Count} cmdlets checked.");
        return 0;
    }

    /// <summary>CmdletsToExport of a module manifest ('*' or absent: every cmdlet of the assembly).</summary>
    internal static List<string> ExportedCmdlets(string manifest, IEnumerable<string> all)
    {
        string text = File.ReadAllText(manifest);
        text = Regex.Replace(text, @"<#.*?#>", "", RegexOptions.Singleline);
        text = Regex.Replace(text, @"(?m)#.*$", "");
        var m = Regex.Match(text, @"CmdletsToExport\s*=\s*(?:@\((?<list>[^)]*)\)|(?<list>'[^']*'|""[^""]*""(?:\s*,\s*(?:'[^']*'|""[^""]*""))*))",
            RegexOptions.IgnoreCase);
        if (!m.Success)
            return all.Order(StringComparer.Ordinal).ToList();
        var names = Regex.Matches(m.Groups["list"].Value, @"'([^']*)'|""([^""]*)""")
            .Select(x => x.Groups[1].Success ? x.Groups[1].Value : x.Groups[2].Value).ToList();
        return names.Contains("*") ? all.Order(StringComparer.Ordinal).ToList() : names;
    }
}

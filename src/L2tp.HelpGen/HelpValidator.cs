using System.Text.RegularExpressions;

namespace L2tp.HelpGen;

/// <summary>
/// Checks the Markdown help against the cmdlets the manifest exports and the assembly declares: every cmdlet has a
/// file, every parameter a section whose metadata is the real one, the SYNTAX block says what the metadata says,
/// and there is enough text (synopsis, description, two explained examples) for Get-Help to be of use.
/// </summary>
internal static class HelpValidator
{
    public const int MinimumExamples = 2;

    private static readonly StringComparer Names = StringComparer.OrdinalIgnoreCase;

    public static void Validate(CommandHelp help, RealCmdlet? real, string moduleName, string helpFileName, Diagnostics diag)
    {
        string file = help.SourceFile;
        string expectedFile = help.Name + ".md";
        if (!string.Equals(Path.GetFileName(file), expectedFile, StringComparison.Ordinal))
            diag.Error(file, 1, $"the title says '# {help.Name}' but the file is named {Path.GetFileName(file)} (expected {expectedFile}).");

        CheckFrontMatter(help, moduleName, helpFileName, file, diag);
        var texts = new List<(string, List<string>)> { ("SYNOPSIS", help.Synopsis), ("DESCRIPTION", help.Description), ("NOTES", help.Notes) };
        texts.AddRange(help.Inputs.Select(t => ($"INPUTS {t.TypeName}", t.Description)));
        texts.AddRange(help.Outputs.Select(t => ($"OUTPUTS {t.TypeName}", t.Description)));
        foreach (var (what, paras) in texts)
            foreach (string para in paras.Where(p => p.Contains("{{")))
                diag.Error(file, 0, $"{what} still has a platyPS placeholder: '{Shorten(para)}'.");
        if (help.Synopsis.All(string.IsNullOrWhiteSpace))
            diag.Error(file, 0, "SYNOPSIS is empty.");
        if (help.Description.All(string.IsNullOrWhiteSpace))
            diag.Error(file, 0, "DESCRIPTION is empty.");
        if (help.Examples.Count < MinimumExamples)
            diag.Error(file, 0, $"{help.Examples.Count} example(s): at least {MinimumExamples} are needed (### Example N, a ```powershell block and text).");
        foreach (var e in help.Examples.Where(e => e.Code.Any(c => c.Contains("{{")) || e.Remarks.Any(r => r.Contains("{{"))))
            diag.Error(file, 0, $"{e.Title} still has a platyPS placeholder.");
        if (!help.HasCommonParameters)
            diag.Error(file, 0, "PARAMETERS has no '### CommonParameters' section.");

        foreach (var p in help.Parameters)
        {
            if (p.Description.All(string.IsNullOrWhiteSpace))
                diag.Error(file, p.Line, $"-{p.Name} has no description.");
            if (p.Description.Any(d => d.Contains("{{")))
                diag.Error(file, p.Line, $"-{p.Name} still has a platyPS placeholder.");
        }

        if (real is null)
        {
            diag.Error(file, 0, $"the assembly has no cmdlet {help.Name}.");
            return;
        }

        int before = diag.Errors.Count;
        bool complete = true;
        foreach (var rp in real.Parameters)
            if (!help.Parameters.Any(p => Names.Equals(p.Name, rp.Name)))
            {
                diag.Error(file, 0, $"parameter -{rp.Name} of {real.Name} has no '### -{rp.Name}' section under PARAMETERS.");
                complete = false;
            }
        foreach (var p in help.Parameters)
        {
            var rp = real.Parameters.FirstOrDefault(r => Names.Equals(r.Name, p.Name));
            if (rp is null)
            {
                diag.Error(file, p.Line, $"'### -{p.Name}' documents a parameter that {real.Name} does not have.");
                complete = false;
            }
            else
                CheckParameter(p, rp, file, diag);
        }

        // The SYNTAX block is checked against the sections' metadata once that metadata is right: with a section
        // missing, extra or wrong, the syntax it implies is wrong too, and that is said above already.
        if (complete && diag.Errors.Count == before)
            CheckSyntax(help, real, file, diag);
        CheckOutputs(help, real, file, diag);
    }

    private static void CheckFrontMatter(CommandHelp help, string moduleName, string helpFileName, string file, Diagnostics diag)
    {
        if (help.FrontMatter.Count == 0)
        {
            diag.Error(file, 1, $"no front matter (---, external help file: {helpFileName}, Module Name: {moduleName}, online version:, schema: 2.0.0, ---).");
            return;
        }
        void Expect(string key, string value)
        {
            if (!help.FrontMatter.TryGetValue(key, out string? v))
                diag.Error(file, 1, $"front matter has no '{key}: {value}'.");
            else if (!string.Equals(v, value, StringComparison.Ordinal))
                diag.Error(file, 1, $"front matter '{key}: {v}' should be '{key}: {value}'.");
        }
        Expect("external help file", helpFileName);
        Expect("Module Name", moduleName);
        Expect("schema", "2.0.0");
    }

    private static void CheckParameter(ParameterHelp p, RealParameter rp, string file, Diagnostics diag)
    {
        void Mismatch(string what, string documented, string real) =>
            diag.Error(file, p.Line, $"-{p.Name}: {what} is documented as '{documented}' but the cmdlet says '{real}'.");

        if (!string.Equals(p.Name, rp.Name, StringComparison.Ordinal))
            Mismatch("the name's case", p.Name, rp.Name);
        if (!Names.Equals(p.Type, rp.TypeName) && !Names.Equals(p.Type, rp.FullTypeName))
            Mismatch("Type", p.Type, rp.TypeName);
        if (rp.VariesBySet)
            diag.Error(file, p.Line, $"-{p.Name}: its Mandatory/Position/pipeline input differ between parameter sets, which L2tp.HelpGen does not describe yet.");
        if (p.Required != rp.Mandatory)
            Mismatch("Required", p.Required.ToString(), rp.Mandatory.ToString());
        if (p.PositionNumber != rp.Position)
            Mismatch("Position", p.Position, rp.Position?.ToString() ?? "Named");
        string realPipeline = Pipeline(rp.ByValue, rp.ByPropertyName);
        if (p.PipelineInput != realPipeline)
            Mismatch("Accept pipeline input", p.PipelineInput, realPipeline);
        if (p.Globbing != rp.Globbing)
            Mismatch("Accept wildcard characters", p.Globbing.ToString(), rp.Globbing.ToString());
        if (!SameSet(p.Aliases, rp.Aliases))
            Mismatch("Aliases", string.Join(", ", p.Aliases), string.Join(", ", rp.Aliases));
        if (!SameSet(p.AcceptedValues, rp.AcceptedValues))
            Mismatch("Accepted values", string.Join(", ", p.AcceptedValues), string.Join(", ", rp.AcceptedValues));
        var realSets = rp.ParameterSets.Select(s => s == "__AllParameterSets" ? "(All)" : s).ToList();
        if (!SameSet(p.ParameterSets, realSets))
            Mismatch("Parameter Sets", string.Join(", ", p.ParameterSets), string.Join(", ", realSets));
    }

    internal static string Pipeline(bool byValue, bool byPropertyName) => (byValue, byPropertyName) switch
    {
        (true, true) => "True (ByValue, ByPropertyName)",
        (true, false) => "True (ByValue)",
        (false, true) => "True (ByPropertyName)",
        _ => "False",
    };

    private static bool SameSet(IEnumerable<string> a, IEnumerable<string> b) =>
        new HashSet<string>(a, Names).SetEquals(new HashSet<string>(b, Names));

    /// <summary>Parameter sets of the cmdlet, as documented: "(All)" alone, or the named sets.</summary>
    internal static List<string> Sets(CommandHelp help)
    {
        var named = help.Parameters.SelectMany(p => p.ParameterSets).Where(s => s != "(All)").Distinct(Names).ToList();
        return named.Count == 0 ? new List<string> { "(All)" } : named;
    }

    /// <summary>The documented parameters of one set, in syntax order.</summary>
    internal static List<ParameterHelp> InSyntaxOrder(CommandHelp help, string set)
    {
        var ps = help.Parameters.Where(p => p.ParameterSets.Contains("(All)") || p.ParameterSets.Contains(set, Names)).ToList();
        bool IsShouldProcess(ParameterHelp p) => p.Name is "WhatIf" or "Confirm";
        return ps.Where(p => p.PositionNumber is not null).OrderBy(p => p.PositionNumber)
            .Concat(ps.Where(p => p.PositionNumber is null && !IsShouldProcess(p)))
            .Concat(ps.Where(p => p.Name == "WhatIf"))
            .Concat(ps.Where(p => p.Name == "Confirm"))
            .ToList();
    }

    /// <summary>One syntax line as Get-Command -Syntax writes it, from the documented metadata.</summary>
    internal static string RenderSyntax(CommandHelp help, string set)
    {
        var parts = new List<string> { help.Name };
        foreach (var p in InSyntaxOrder(help, set))
        {
            string name = p.PositionNumber is null ? $"-{p.Name}" : $"[-{p.Name}]";
            string s = p.IsSwitch ? name : $"{name} <{p.Type}>";
            parts.Add(p.Required ? s : $"[{s}]");
        }
        parts.Add("[<CommonParameters>]");
        return string.Join(" ", parts);
    }

    private static void CheckSyntax(CommandHelp help, RealCmdlet real, string file, Diagnostics diag)
    {
        var sets = Sets(help);
        foreach (string set in sets)
        {
            string expected = RenderSyntax(help, set);
            var blocks = help.Syntax.Where(s => set == "(All)"
                ? s.SetHeading is "" or "__AllParameterSets" or "(All)"
                : Regex.Replace(s.SetHeading, @"\s*\(Default\)$", "").Equals(set, StringComparison.OrdinalIgnoreCase)).ToList();
            if (blocks.Count != 1)
            {
                diag.Error(file, 0, set == "(All)"
                    ? $"SYNTAX should be one code block:\n    {expected}"
                    : $"SYNTAX should have '### {set}' with one code block:\n    {expected}");
                continue;
            }
            string documented = Regex.Replace(blocks[0].Text, @"\s+", " ").Trim();
            if (documented != expected)
                diag.Error(file, 0, $"SYNTAX{(set == "(All)" ? "" : $" of set {set}")} does not match the PARAMETERS metadata.\n    documented: {documented}\n    expected:   {expected}");
        }
        if (sets.Count == 1 && help.Syntax.Count > 1)
            diag.Error(file, 0, "SYNTAX has more than one code block, but the cmdlet has one parameter set.");
    }

    private static void CheckOutputs(CommandHelp help, RealCmdlet real, string file, Diagnostics diag)
    {
        var documented = help.Outputs.Select(o => o.TypeName).Where(n => !n.Equals("None", StringComparison.OrdinalIgnoreCase)).ToList();
        if (real.OutputTypes.Count == 0 && documented.Count > 0)
            diag.Error(file, 0, $"OUTPUTS lists {string.Join(", ", documented)}, but {real.Name} declares no [OutputType]: write '### None'.");
        if (real.OutputTypes.Count > 0 && !SameSet(documented, real.OutputTypes))
            diag.Error(file, 0, $"OUTPUTS lists '{string.Join(", ", documented)}', but {real.Name} declares [OutputType] {string.Join(", ", real.OutputTypes)}: use those full type names as the '### ' headings.");
        if (real.OutputTypes.Count == 0 && !help.Outputs.Any(o => o.TypeName.Equals("None", StringComparison.OrdinalIgnoreCase)))
            diag.Error(file, 0, "OUTPUTS should say '### None'.");
    }

    private static string Shorten(string s) => s.Length <= 60 ? s : s[..57] + "...";
}

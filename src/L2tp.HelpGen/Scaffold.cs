using System.Text;
using System.Xml.Linq;

namespace L2tp.HelpGen;

/// <summary>
/// Writes a starting Markdown file for a cmdlet that has none (what platyPS's New-MarkdownHelp does): the real
/// syntax and parameter metadata, the XML doc comments as first drafts of the texts, and {{ placeholders }} that the
/// generator refuses until a person has replaced them.
/// </summary>
internal static class Scaffold
{
    public const string CommonParametersText =
        "This cmdlet supports the common parameters: -Debug, -ErrorAction, -ErrorVariable, -InformationAction, " +
        "-InformationVariable, -OutBuffer, -OutVariable, -PipelineVariable, -ProgressAction, -Verbose, -WarningAction, " +
        "and -WarningVariable. For more information, see [about_CommonParameters](https://go.microsoft.com/fwlink/?LinkID=113216).";

    public static string Create(RealCmdlet cmdlet, string moduleName, string helpFileName, string? xmlDocPath)
    {
        var docs = xmlDocPath is not null && File.Exists(xmlDocPath) ? XDocument.Load(xmlDocPath) : null;
        string? Summary(string member) => docs?.Descendants("member")
            .FirstOrDefault(m => (string?)m.Attribute("name") == member)?.Element("summary")?.Value is { } s
            ? string.Join(" ", s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)) : null;

        var help = new CommandHelp { Name = cmdlet.Name, SourceFile = cmdlet.Name + ".md" };
        foreach (var rp in cmdlet.Parameters)
        {
            var p = new ParameterHelp
            {
                Name = rp.Name,
                Line = 0,
                Type = rp.TypeName,
                Required = rp.Mandatory,
                Position = rp.Position?.ToString() ?? "Named",
                PipelineInput = HelpValidator.Pipeline(rp.ByValue, rp.ByPropertyName),
                Globbing = rp.Globbing,
                DefaultValue = rp.IsSwitch ? "False" : "None",
            };
            p.ParameterSets.AddRange(rp.ParameterSets.Select(s => s == "__AllParameterSets" ? "(All)" : s).Distinct());
            p.Aliases.AddRange(rp.Aliases);
            p.AcceptedValues.AddRange(rp.AcceptedValues);
            help.Parameters.Add(p);
        }

        var sb = new StringBuilder();
        sb.Append($"---\nexternal help file: {helpFileName}\nModule Name: {moduleName}\nonline version:\nschema: 2.0.0\n---\n\n");
        sb.Append($"# {cmdlet.Name}\n\n## SYNOPSIS\n\n{Summary("T:" + cmdlet.TypeName) ?? "{{ Fill in the Synopsis }}"}\n\n## SYNTAX\n\n");
        foreach (string set in HelpValidator.Sets(help))
        {
            if (set != "(All)")
                sb.Append($"### {set}\n\n");
            sb.Append($"```\n{HelpValidator.RenderSyntax(help, set)}\n```\n\n");
        }
        sb.Append("## DESCRIPTION\n\n{{ Fill in the Description }}\n\n## EXAMPLES\n\n");
        for (int i = 1; i <= HelpValidator.MinimumExamples; i++)
            sb.Append($"### Example {i}\n\n```powershell\n{{{{ Add example code here }}}}\n```\n\n{{{{ Add example description here }}}}\n\n");
        sb.Append("## PARAMETERS\n\n");
        foreach (var p in HelpValidator.InSyntaxOrder(help, HelpValidator.Sets(help)[0]).Concat(help.Parameters).Distinct())
        {
            var rp = cmdlet.Parameters.First(r => r.Name == p.Name);
            string? text = p.Name switch
            {
                "WhatIf" => "Shows what would happen if the cmdlet runs. The cmdlet is not run.",
                "Confirm" => "Prompts you for confirmation before running the cmdlet.",
                _ => FindPropertySummary(cmdlet, rp, Summary),
            };
            sb.Append($"### -{p.Name}\n\n{text ?? $"{{{{ Fill {p.Name} Description }}}}"}\n\n```yaml\n");
            sb.Append($"Type: {p.Type}\nParameter Sets: {string.Join(", ", p.ParameterSets)}\n");
            sb.Append(p.Aliases.Count > 0 ? $"Aliases: {string.Join(", ", p.Aliases)}\n" : "Aliases:\n");
            if (p.AcceptedValues.Count > 0)
                sb.Append($"Accepted values: {string.Join(", ", p.AcceptedValues)}\n");
            sb.Append($"\nRequired: {p.Required}\nPosition: {p.Position}\nDefault value: {p.DefaultValue}\n");
            sb.Append($"Accept pipeline input: {p.PipelineInput}\nAccept wildcard characters: {p.Globbing}\n```\n\n");
        }
        sb.Append($"### CommonParameters\n\n{CommonParametersText}\n\n");
        sb.Append("## INPUTS\n\n### None\n\n{{ Fill in what can be piped }}\n\n## OUTPUTS\n\n");
        foreach (string o in cmdlet.OutputTypes.DefaultIfEmpty("None"))
            sb.Append($"### {o}\n\n{{{{ Fill in what is written }}}}\n\n");
        sb.Append("## NOTES\n\n## RELATED LINKS\n\n[about_L2tp]()\n");
        return sb.ToString();
    }

    private static string? FindPropertySummary(RealCmdlet cmdlet, RealParameter rp, Func<string, string?> summary) =>
        summary($"P:{rp.DeclaringType}.{rp.Name}");
}

using System.Text;
using Markdig;
using Markdig.Extensions.Yaml;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;

namespace L2tp.HelpGen;

/// <summary>
/// Reads a cmdlet help file in platyPS's Markdown schema (front matter, # Name, ## SYNOPSIS, ## SYNTAX,
/// ## DESCRIPTION, ## EXAMPLES / ### Example N, ## PARAMETERS / ### -Name + yaml, ## INPUTS, ## OUTPUTS, ## NOTES,
/// ## RELATED LINKS) with Markdig. Problems of form are reported, not thrown, so one run lists them all.
/// </summary>
internal static class MarkdownHelpReader
{
    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder().UseYamlFrontMatter().Build();

    private static readonly string[] KnownSections =
        { "SYNOPSIS", "SYNTAX", "DESCRIPTION", "EXAMPLES", "PARAMETERS", "INPUTS", "OUTPUTS", "NOTES", "RELATED LINKS" };

    private static readonly string[] YamlKeys =
    {
        "Type", "Parameter Sets", "Aliases", "Accepted values", "Required", "Position", "Default value",
        "Accept pipeline input", "Accept wildcard characters",
    };

    private sealed class Section
    {
        public required string Title { get; init; }
        public required int Line { get; init; }
        public List<Block> Blocks { get; } = new();
        public List<(string Title, int Line, List<Block> Blocks)> Subsections { get; } = new();
    }

    public static CommandHelp Read(string path, Diagnostics diag)
    {
        string file = path;   // as given: errors name the file so an editor can open it
        string text = File.ReadAllText(path);
        MarkdownDocument doc = Markdown.Parse(text, Pipeline);

        string? title = null;
        var sections = new List<Section>();
        var frontMatter = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        Section? current = null;
        foreach (Block block in doc)
        {
            switch (block)
            {
                case YamlFrontMatterBlock yaml:
                    foreach (var (key, value, _) in KeyValues(yaml, file, diag))
                        frontMatter[key] = value;
                    break;
                case HeadingBlock { Level: 1 } h1:
                    if (title is not null)
                        diag.Error(file, Line(h1), "a second '# ' title: a help file describes one cmdlet.");
                    title = InlineText(h1.Inline).Trim();
                    break;
                case HeadingBlock { Level: 2 } h2:
                    current = new Section { Title = InlineText(h2.Inline).Trim(), Line = Line(h2) };
                    if (!KnownSections.Contains(current.Title))
                        diag.Error(file, current.Line, $"unknown section '## {current.Title}' (platyPS sections: {string.Join(", ", KnownSections)}).");
                    if (sections.Any(s => s.Title == current.Title))
                        diag.Error(file, current.Line, $"section '## {current.Title}' appears twice.");
                    sections.Add(current);
                    break;
                case HeadingBlock { Level: 3 } h3 when current is not null:
                    current.Subsections.Add((InlineText(h3.Inline).Trim(), Line(h3), new List<Block>()));
                    break;
                default:
                    if (current is null)
                    {
                        if (block is not LinkReferenceDefinitionGroup)
                            diag.Error(file, Line(block), "text before the first '## ' section.");
                    }
                    else if (current.Subsections.Count > 0)
                        current.Subsections[^1].Blocks.Add(block);
                    else
                        current.Blocks.Add(block);
                    break;
            }
        }

        string name = title ?? Path.GetFileNameWithoutExtension(path);
        if (title is null)
            diag.Error(file, 1, "no '# Cmdlet-Name' title.");
        var help = new CommandHelp { Name = name, SourceFile = path };
        foreach (var kv in frontMatter)
            help.FrontMatter[kv.Key] = kv.Value;

        Section? Get(string t) => sections.FirstOrDefault(s => s.Title == t);
        foreach (string t in KnownSections)
            if (Get(t) is null)
                diag.Error(file, 1, $"no '## {t}' section.");
        for (int i = 0, k = 0; i < sections.Count; i++)
        {
            int want = Array.IndexOf(KnownSections, sections[i].Title);
            if (want < 0)
                continue;
            if (want < k)
                diag.Error(file, sections[i].Line, $"'## {sections[i].Title}' is out of order (platyPS order: {string.Join(", ", KnownSections)}).");
            k = Math.Max(k, want);
        }

        if (Get("SYNOPSIS") is { } synopsis)
        {
            help.Synopsis.AddRange(Paragraphs(synopsis.Blocks));
            if (synopsis.Subsections.Count > 0)
                diag.Error(file, synopsis.Subsections[0].Line, "SYNOPSIS has no '### ' subsections.");
        }
        if (Get("SYNTAX") is { } syntax)
            ReadSyntax(syntax, help, file, diag);
        if (Get("DESCRIPTION") is { } description)
        {
            help.Description.AddRange(Paragraphs(description.Blocks));
            foreach (var sub in description.Subsections)
            {
                help.Description.Add(sub.Title.ToUpperInvariant());
                help.Description.AddRange(Paragraphs(sub.Blocks));
            }
        }
        if (Get("EXAMPLES") is { } examples)
            ReadExamples(examples, help, file, diag);
        if (Get("PARAMETERS") is { } parameters)
            ReadParameters(parameters, help, file, diag);
        if (Get("INPUTS") is { } inputs)
            help.Inputs.AddRange(ReadTypes(inputs, file, diag));
        if (Get("OUTPUTS") is { } outputs)
            help.Outputs.AddRange(ReadTypes(outputs, file, diag));
        if (Get("NOTES") is { } notes)
        {
            help.Notes.AddRange(Paragraphs(notes.Blocks));
            foreach (var sub in notes.Subsections)
            {
                help.Notes.Add(sub.Title.ToUpperInvariant());
                help.Notes.AddRange(Paragraphs(sub.Blocks));
            }
        }
        if (Get("RELATED LINKS") is { } links)
            foreach (Block b in links.Blocks.Concat(links.Subsections.SelectMany(s => s.Blocks)))
                foreach (var link in Links(b))
                    help.Links.Add((InlineText(link).Trim(), link.Url ?? ""));
        return help;
    }

    /// <summary>The links of a block and its children (Block.Descendants does not reach into inlines).</summary>
    private static IEnumerable<LinkInline> Links(Block b) => b switch
    {
        LeafBlock { Inline: { } inline } => inline.Descendants<LinkInline>(),
        ContainerBlock container => container.SelectMany(Links),
        _ => Enumerable.Empty<LinkInline>(),
    };

    private static void ReadSyntax(Section syntax, CommandHelp help, string file, Diagnostics diag)
    {
        foreach (var b in syntax.Blocks.OfType<FencedCodeBlock>())
            help.Syntax.Add(("", CodeText(b)));
        foreach (var (title, line, blocks) in syntax.Subsections)
        {
            var code = blocks.OfType<FencedCodeBlock>().ToList();
            if (code.Count != 1)
                diag.Error(file, line, $"SYNTAX '### {title}' needs exactly one code block.");
            foreach (var b in code)
                help.Syntax.Add((title, CodeText(b)));
        }
        if (help.Syntax.Count == 0)
            diag.Error(file, syntax.Line, "SYNTAX has no code block.");
    }

    private static void ReadExamples(Section examples, CommandHelp help, string file, Diagnostics diag)
    {
        if (examples.Blocks.Count > 0)
            diag.Error(file, Line(examples.Blocks[0]), "EXAMPLES: text before the first '### Example 1'.");
        int n = 0;
        foreach (var (title, line, blocks) in examples.Subsections)
        {
            n++;
            if (!title.StartsWith($"Example {n}", StringComparison.Ordinal) ||
                (title.Length > $"Example {n}".Length && title[$"Example {n}".Length] != ':'))
                diag.Error(file, line, $"example heading '### {title}' should be '### Example {n}' or '### Example {n}: what it does'.");
            var example = new ExampleHelp { Title = title };
            // The first run of code blocks is the example's code (a command, maybe its output); text before or
            // after it, and any later code, explains it.
            int state = 0;   // 0: before the code, 1: in the first run of code blocks, 2: after it
            foreach (Block b in blocks)
            {
                if (b is FencedCodeBlock code && state < 2)
                {
                    // The command is ```powershell; what follows it directly may be its output (```output).
                    if (state == 0 && !string.Equals(code.Info, "powershell", StringComparison.OrdinalIgnoreCase))
                        diag.Error(file, Line(code), $"{title}: the example's code block should be ```powershell (it is ```{code.Info}).");
                    example.Code.Add(CodeText(code));
                    state = 1;
                }
                else
                {
                    if (state == 1)
                        state = 2;
                    example.Remarks.AddRange(Paragraphs(new[] { b }));
                }
            }
            if (example.Code.Count == 0)
                diag.Error(file, line, $"{title} has no ```powershell code block.");
            if (example.Remarks.All(string.IsNullOrWhiteSpace))
                diag.Error(file, line, $"{title} has no text saying what it does.");
            help.Examples.Add(example);
        }
    }

    private static void ReadParameters(Section parameters, CommandHelp help, string file, Diagnostics diag)
    {
        foreach (var (title, line, blocks) in parameters.Subsections)
        {
            if (title == "CommonParameters")
            {
                help.HasCommonParameters = true;
                continue;
            }
            if (!title.StartsWith('-') || title.Length < 2 || title.Contains(' '))
            {
                diag.Error(file, line, $"parameter heading '### {title}' should be '### -Name' (or '### CommonParameters').");
                continue;
            }
            var p = new ParameterHelp { Name = title[1..], Line = line };
            var yamlBlocks = blocks.OfType<FencedCodeBlock>().Where(c => c.Info == "yaml").ToList();
            if (yamlBlocks.Count != 1)
                diag.Error(file, line, $"-{p.Name} needs exactly one ```yaml block (Type, Parameter Sets, Aliases, Required, Position, Default value, Accept pipeline input, Accept wildcard characters); it has {yamlBlocks.Count}.");
            p.Description.AddRange(Paragraphs(blocks.Where(b => !yamlBlocks.Contains(b))));
            if (yamlBlocks.Count > 0)
                ReadParameterYaml(yamlBlocks[0], p, file, diag);
            if (help.Parameters.Any(x => string.Equals(x.Name, p.Name, StringComparison.OrdinalIgnoreCase)))
                diag.Error(file, line, $"-{p.Name} is documented twice.");
            help.Parameters.Add(p);
        }
    }

    private static void ReadParameterYaml(FencedCodeBlock yaml, ParameterHelp p, string file, Diagnostics diag)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value, line) in KeyValues(yaml, file, diag))
        {
            string? canonical = YamlKeys.FirstOrDefault(k => string.Equals(k, key, StringComparison.OrdinalIgnoreCase));
            if (canonical is null)
            {
                diag.Error(file, line, $"-{p.Name}: unknown yaml key '{key}' (keys: {string.Join(", ", YamlKeys)}).");
                continue;
            }
            seen.Add(canonical);
            switch (canonical)
            {
                case "Type": p.Type = value; break;
                case "Parameter Sets": p.ParameterSets.AddRange(List(value)); break;
                case "Aliases": p.Aliases.AddRange(List(value)); break;
                case "Accepted values": p.AcceptedValues.AddRange(List(value)); break;
                case "Required": p.Required = Bool(value, key, p, file, line, diag); break;
                case "Position":
                    if (!value.Equals("Named", StringComparison.OrdinalIgnoreCase) && !int.TryParse(value, out _))
                        diag.Error(file, line, $"-{p.Name}: Position '{value}' should be Named or a number.");
                    p.Position = value.Equals("Named", StringComparison.OrdinalIgnoreCase) ? "Named" : value;
                    break;
                case "Default value": p.DefaultValue = value.Length == 0 ? "None" : value; break;
                case "Accept pipeline input":
                    if (value is not ("False" or "True (ByValue)" or "True (ByPropertyName)" or "True (ByValue, ByPropertyName)"))
                        diag.Error(file, line, $"-{p.Name}: Accept pipeline input '{value}' should be False, True (ByValue), True (ByPropertyName) or True (ByValue, ByPropertyName).");
                    p.PipelineInput = value;
                    break;
                case "Accept wildcard characters": p.Globbing = Bool(value, key, p, file, line, diag); break;
            }
        }
        foreach (string k in YamlKeys.Where(k => k != "Accepted values" && !seen.Contains(k)))
            diag.Error(file, Line(yaml), $"-{p.Name}: the yaml block has no '{k}:'.");
        if (p.Type.Length == 0)
            diag.Error(file, Line(yaml), $"-{p.Name}: 'Type:' is empty.");
        if (p.ParameterSets.Count == 0)
            p.ParameterSets.Add("(All)");
    }

    private static bool Bool(string value, string key, ParameterHelp p, string file, int line, Diagnostics diag)
    {
        if (bool.TryParse(value, out bool b))
            return b;
        diag.Error(file, line, $"-{p.Name}: {key} '{value}' should be True or False.");
        return false;
    }

    private static IEnumerable<string> List(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static IEnumerable<TypeHelp> ReadTypes(Section section, string file, Diagnostics diag)
    {
        if (section.Subsections.Count == 0)
            diag.Error(file, section.Line, $"{section.Title} needs a '### TypeName' (or '### None') per type.");
        if (section.Blocks.Count > 0)
            diag.Error(file, Line(section.Blocks[0]), $"{section.Title}: text belongs under a '### TypeName' heading.");
        foreach (var (title, _, blocks) in section.Subsections)
        {
            var t = new TypeHelp { TypeName = title };
            t.Description.AddRange(Paragraphs(blocks));
            yield return t;
        }
    }

    private static IEnumerable<(string Key, string Value, int Line)> KeyValues(LeafBlock block, string file, Diagnostics diag)
    {
        int first = Line(block);
        var lines = block.Lines.ToString().Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string l = lines[i].TrimEnd('\r');
            if (l.Trim().Length == 0 || l.Trim() == "---")
                continue;
            int colon = l.IndexOf(':');
            if (colon <= 0)
            {
                diag.Error(file, first + i + 1, $"'{l.Trim()}' is not 'Key: value'.");
                continue;
            }
            yield return (l[..colon].Trim(), l[(colon + 1)..].Trim(), first + i + 1);
        }
    }

    /// <summary>Markdown blocks as MAML paragraphs: one per paragraph, list item or code block.</summary>
    private static IEnumerable<string> Paragraphs(IEnumerable<Block> blocks)
    {
        foreach (Block b in blocks)
        {
            switch (b)
            {
                case ParagraphBlock p:
                    yield return InlineText(p.Inline).Trim();
                    break;
                case ListBlock list:
                    int n = list.IsOrdered && int.TryParse(list.OrderedStart, out int s) ? s : 1;
                    foreach (var item in list.OfType<ListItemBlock>())
                    {
                        string bullet = list.IsOrdered ? $"{n++}." : "-";
                        var inner = Paragraphs(item).ToList();
                        for (int i = 0; i < inner.Count; i++)
                            yield return i == 0 ? $"{bullet} {inner[i]}" : "  " + inner[i].Replace("\n", "\n  ");
                    }
                    break;
                case FencedCodeBlock code:
                    yield return Indent(CodeText(code));
                    break;
                case CodeBlock code:
                    yield return Indent(code.Lines.ToString().TrimEnd());
                    break;
                case QuoteBlock quote:
                    foreach (string inner in Paragraphs(quote))
                        yield return inner;
                    break;
                case HeadingBlock h:
                    yield return InlineText(h.Inline).Trim().ToUpperInvariant();
                    break;
                case ThematicBreakBlock or LinkReferenceDefinitionGroup:
                    break;
                case LeafBlock leaf:
                    yield return leaf.Lines.ToString().Trim();
                    break;
            }
        }
    }

    private static string Indent(string code) => string.Join("\n", code.Split('\n').Select(l => "    " + l));

    private static string CodeText(LeafBlock code) => code.Lines.ToString().Replace("\r", "").TrimEnd();

    /// <summary>Plain text of inlines, as Get-Help shows it: emphasis marks dropped, code in backticks, links as their text.</summary>
    internal static string InlineText(ContainerInline? container)
    {
        var sb = new StringBuilder();
        Append(container, sb);
        return sb.ToString();
    }

    private static void Append(Inline? inline, StringBuilder sb)
    {
        switch (inline)
        {
            case null:
                return;
            case LiteralInline lit:
                sb.Append(lit.Content.ToString());
                break;
            case CodeInline code:
                // Kept in backticks, as Microsoft's own help shows them: names and values stand out from the prose.
                sb.Append('`').Append(code.Content).Append('`');
                break;
            case LineBreakInline br:
                sb.Append(br.IsHard ? "\n" : " ");
                break;
            case AutolinkInline auto:
                sb.Append(auto.Url);
                break;
            case HtmlEntityInline entity:
                sb.Append(entity.Transcoded.ToString());
                break;
            case HtmlInline html:
                sb.Append(html.Tag);
                break;
            case LinkInline link when link.FirstChild is null:
                sb.Append(link.Url);
                break;
            case ContainerInline container:
                foreach (var child in container)
                    Append(child, sb);
                break;
        }
    }

    private static int Line(Block b) => b.Line + 1;
}

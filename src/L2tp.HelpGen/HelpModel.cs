namespace L2tp.HelpGen;

/// <summary>One cmdlet's help as written in its platyPS-format Markdown file.</summary>
internal sealed class CommandHelp
{
    public required string Name { get; init; }
    public required string SourceFile { get; init; }
    public Dictionary<string, string> FrontMatter { get; } = new(StringComparer.OrdinalIgnoreCase);
    public List<string> Synopsis { get; } = new();
    /// <summary>The SYNTAX code blocks, keyed by parameter set heading ("" where the file has a single unnamed block).</summary>
    public List<(string SetHeading, string Text)> Syntax { get; } = new();
    public List<string> Description { get; } = new();
    public List<ExampleHelp> Examples { get; } = new();
    public List<ParameterHelp> Parameters { get; } = new();
    public bool HasCommonParameters { get; set; }
    public List<TypeHelp> Inputs { get; } = new();
    public List<TypeHelp> Outputs { get; } = new();
    public List<string> Notes { get; } = new();
    public List<(string Text, string Uri)> Links { get; } = new();

    public string Verb => Name.Split('-', 2)[0];
    public string Noun => Name.Contains('-') ? Name.Split('-', 2)[1] : "";
}

/// <summary>An example: its heading, its code and the text that explains it.</summary>
internal sealed class ExampleHelp
{
    public required string Title { get; init; }
    public List<string> Code { get; } = new();
    public List<string> Remarks { get; } = new();
}

/// <summary>A `### -Name` section of PARAMETERS: the description and the metadata of its yaml block.</summary>
internal sealed class ParameterHelp
{
    public required string Name { get; init; }
    public required int Line { get; init; }
    public List<string> Description { get; } = new();
    public string Type { get; set; } = "";
    public List<string> ParameterSets { get; } = new();
    public List<string> Aliases { get; } = new();
    public List<string> AcceptedValues { get; } = new();
    public bool Required { get; set; }
    /// <summary>"Named" or a number.</summary>
    public string Position { get; set; } = "Named";
    public string DefaultValue { get; set; } = "None";
    /// <summary>As platyPS writes it: False, True (ByValue), True (ByPropertyName), True (ByValue, ByPropertyName).</summary>
    public string PipelineInput { get; set; } = "False";
    public bool Globbing { get; set; }

    public bool IsSwitch => Type is "SwitchParameter" or "System.Management.Automation.SwitchParameter";
    public int? PositionNumber => int.TryParse(Position, out int p) ? p : null;
    public bool ByValue => PipelineInput.Contains("ByValue", StringComparison.OrdinalIgnoreCase);
    public bool ByPropertyName => PipelineInput.Contains("ByPropertyName", StringComparison.OrdinalIgnoreCase);
}

/// <summary>An INPUTS or OUTPUTS entry: a type name heading and its text.</summary>
internal sealed class TypeHelp
{
    public required string TypeName { get; init; }
    public List<string> Description { get; } = new();
}

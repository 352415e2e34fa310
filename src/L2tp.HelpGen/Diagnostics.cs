namespace L2tp.HelpGen;

/// <summary>Collects problems as `file:line: error: message`, so one run reports all of them.</summary>
internal sealed class Diagnostics
{
    private readonly List<string> _errors = new();

    public IReadOnlyList<string> Errors => _errors;

    public void Error(string file, int line, string message) =>
        _errors.Add(line > 0 ? $"{file}:{line}: error: {message}" : $"{file}: error: {message}");
}

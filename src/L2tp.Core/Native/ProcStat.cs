namespace L2tp.Native;

/// <summary>Reads /proc/PID/stat, whose second field (the command name) may hold spaces and parentheses.</summary>
internal static class ProcStat
{
    /// <summary>The fields after the command name (field 3, the state, is [0]); null when the process is gone or unreadable.</summary>
    public static string[]? FieldsAfterName(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}

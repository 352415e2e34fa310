namespace L2tp.Native;

/// <summary>Whether a process may configure L2TP: root, or CAP_NET_ADMIN as the kernel's GENL_UNS_ADMIN_PERM asks.</summary>
internal static class Capabilities
{
    private const int CapNetAdmin = 12;

    /// <summary>CAP_NET_ADMIN in the effective set of <paramref name="pid"/> ("self" for this process).</summary>
    public static bool HasNetAdmin(string pid = "self")
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("CapEff:", StringComparison.Ordinal))
                    return (Convert.ToUInt64(line[7..].Trim(), 16) & (1UL << CapNetAdmin)) != 0;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return false;
    }
}

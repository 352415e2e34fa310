using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using L2tp.Backends;
using L2tp.Native;
using L2tp.Netlink;

namespace L2tp.Commands;

/// <summary>Shared plumbing of the completers: the namespace already typed on the command line, and quiet failure.</summary>
internal static class CompletionSource
{
    public static string Namespace(IDictionary bound) =>
        (bound["NetworkNamespace"] ?? bound["netns"]) is { } v ? v.ToString() ?? "" : "";

    public static IEnumerable<CompletionResult> Results(IEnumerable<string> values, string word) =>
        values.Where(v => v.StartsWith(word, StringComparison.OrdinalIgnoreCase)).Distinct()
            .Select(v => new CompletionResult(v, v, CompletionResultType.ParameterValue, v));

    /// <summary>Runs <paramref name="read"/> in the namespace; completion must never throw at the user.</summary>
    public static List<string> Try(IDictionary bound, Func<List<string>> read)
    {
        try
        {
            using (NetNamespace.Enter(Namespace(bound)))
                return read();
        }
        catch (Exception)
        {
            return new List<string>();
        }
    }

    public static List<string> Links(IDictionary bound, Func<LinkInfo, bool> filter) => Try(bound, () =>
    {
        using var rt = new RtNetlink();
        return rt.Links().Where(filter).Select(l => l.Name).Order(StringComparer.Ordinal).ToList();
    });

    public static List<string> Backend(IDictionary bound, Func<IL2tpBackend, IEnumerable<string>> read) => Try(bound, () =>
    {
        using var b = BackendSelector.Open(BackendKind.Auto, "", create: false);
        return b is null ? new List<string>() : read(b).ToList();
    });
}

/// <summary>Completes -TunnelId from the live tunnels.</summary>
public sealed class TunnelIdCompleter : IArgumentCompleter
{
    /// <summary>Lists tunnel ids of the namespace.</summary>
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters) =>
        CompletionSource.Results(CompletionSource.Backend(fakeBoundParameters, b => b.GetTunnels().Select(t => t.TunnelId.ToString())), wordToComplete);
}

/// <summary>Completes -SessionId from the live sessions (of the -TunnelId already given, if any).</summary>
public sealed class SessionIdCompleter : IArgumentCompleter
{
    /// <summary>Lists session ids of the namespace.</summary>
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        uint? tunnel = fakeBoundParameters["TunnelId"] is { } t && uint.TryParse(t.ToString(), out var id) ? id : null;
        return CompletionSource.Results(CompletionSource.Backend(fakeBoundParameters, b => b.GetSessions(tunnel).Select(s => s.SessionId.ToString())), wordToComplete);
    }
}

/// <summary>Completes -InterfaceName from the namespace's interfaces.</summary>
public sealed class InterfaceNameCompleter : IArgumentCompleter
{
    /// <summary>Lists interface names.</summary>
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters) =>
        CompletionSource.Results(CompletionSource.Links(fakeBoundParameters, _ => true), wordToComplete);
}

/// <summary>Completes -Bridge and bridge -Name from the namespace's bridges.</summary>
public sealed class BridgeNameCompleter : IArgumentCompleter
{
    /// <summary>Lists bridge names.</summary>
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters) =>
        CompletionSource.Results(CompletionSource.Links(fakeBoundParameters, l => l.Kind == "bridge"), wordToComplete);
}

/// <summary>Offers Auto for -Mtu.</summary>
public sealed class MtuCompleter : IArgumentCompleter
{
    /// <summary>Lists Auto and the common MTUs.</summary>
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters) =>
        CompletionSource.Results(new[] { "Auto", "1446", "1450", "1500" }, wordToComplete);
}

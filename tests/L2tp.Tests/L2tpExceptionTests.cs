using Xunit;

namespace L2tp.Tests;

public class L2tpExceptionTests
{
    [Fact]
    public void ErrorId_gets_the_L2tp_prefix_once()
    {
        Assert.Equal("L2tp.TunnelExists", new L2tpException("TunnelExists", L2tpErrorKind.ResourceExists, 5u, "m").ErrorId);
        Assert.Equal("L2tp.TunnelExists", new L2tpException("L2tp.TunnelExists", L2tpErrorKind.ResourceExists, 5u, "m").ErrorId);
    }

    [Fact]
    public void Carries_kind_target_message_inner_and_errno()
    {
        var inner = new InvalidOperationException("inner");
        var e = new L2tpException("X", L2tpErrorKind.ObjectNotFound, "t", "msg", inner) { Errno = 19 };
        Assert.Equal(L2tpErrorKind.ObjectNotFound, e.Kind);
        Assert.Equal("t", e.Target);
        Assert.Equal("msg", e.Message);
        Assert.Same(inner, e.InnerException);
        Assert.Equal(19, e.Errno);
    }

    [Fact]
    public void Control_characters_from_input_reach_the_message_escaped_never_raw()
    {
        // An interface name from a hostile file or a forwarder's extended ack: no terminal escape reaches the screen.
        var e = new L2tpException("X", L2tpErrorKind.InvalidArgument, "eth\u001b[2J", "name 'eth\u001b[2J\u009b1m\u0000' is bad:\n\tsee above");
        Assert.Equal("name 'eth\\u001b[2J\\u009b1m\\u0000' is bad:\n\tsee above", e.Message);
        Assert.Equal("eth\u001b[2J", e.Target);
        var r = L2tpException.Rule("X", L2tpErrorKind.InvalidArgument, 1, "{Name} '\u001b]0;owned\u0007'");
        Assert.DoesNotContain(r.Word(f => "-" + f), c => c is '\u001b' or '\u0007');
    }

    [Fact]
    public void Import_warnings_carry_names_with_control_characters_escaped()
    {
        var (_, warnings) = L2tp.Configuration.IpL2tpImport.Read("ip link set dev \"x\u001b[2J\" mtu 1400");
        Assert.Contains(warnings, w => w.Contains("x\\u001b[2J"));
        Assert.DoesNotContain(warnings, w => w.Contains('\u001b'));
    }
}

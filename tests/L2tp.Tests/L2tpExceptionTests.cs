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
}

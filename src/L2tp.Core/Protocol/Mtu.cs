namespace L2tp.Protocol;

/// <summary>The session interface MTU that fits the encapsulation, computed as l2tp_eth does at creation.</summary>
internal static class Mtu
{
    /// <summary>
    /// The underlay's MTU less the IP header (20/40), UDP (8, encap udp), the L2TP header (session id, UDP word,
    /// cookie, sublayer) and the inner Ethernet header (14); from 1500 when the result is out of range.
    /// </summary>
    public static int ForSession(int underlayMtu, Encapsulation encap, bool ipv6, int cookieLength, L2SpecType l2spec)
    {
        int overhead = (ipv6 ? 40 : 20) + (encap == Encapsulation.Udp ? 8 : 0) + L2tpHeader.Length(encap, cookieLength, l2spec) + 14;
        return FromOverhead(underlayMtu, overhead);
    }

    /// <summary>The underlay MTU less <paramref name="overhead"/>, or 1500 less it when that is out of range.</summary>
    public static int FromOverhead(int underlayMtu, int overhead)
    {
        int mtu = underlayMtu - overhead;
        return mtu is >= 68 and <= 65535 ? mtu : 1500 - overhead;
    }
}

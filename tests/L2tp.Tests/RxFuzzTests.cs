using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using L2tp.Forwarder.Dataplane;
using L2tp.Native;
using L2tp.Protocol;
using Xunit;
using Xunit.Abstractions;

namespace L2tp.Tests;

/// <summary>
/// A seeded fuzz run: a million valid, mutated and random packets through L2tpHeader and RxLoop.Deliver. Every packet's
/// outcome is predicted by an oracle written here from RFC 3931 / RFC 4719 (not from L2tpHeader), with a shadow
/// Sequencer for the sequence rules (those have their own tests); each session's TAP is a pipe, drained after each
/// delivery and compared with the frame the oracle expects.
/// </summary>
public sealed class RxFuzzTests : IDisposable
{
    private const int Seed = 0x4C32_5450;   // "L2TP"
    private const int Packets = 1_000_000;

    private readonly ITestOutputHelper _out;
    public RxFuzzTests(ITestOutputHelper output) => _out = output;

    private sealed class Fs
    {
        public required uint Id;
        public required byte[] PeerCookie;
        public required L2SpecType L2Spec;
        public required SequencingMode Seq;
        public required SessionRuntime Runtime;
        public required Pipe Tap;
        public required Sequencer Shadow;
        public uint NextNs;
    }

    private sealed class Ft
    {
        public required Encapsulation Encap;
        public required TunnelRuntime Runtime;
        public required Dictionary<uint, Fs> Sessions;
        public required Fs[] List;
    }

    private readonly List<Pipe> _pipes = new();

    public void Dispose()
    {
        foreach (var p in _pipes)
            p.Dispose();
    }

    private Ft MakeTunnel(Encapsulation encap, params (uint Id, string PeerCookie, L2SpecType L2Spec, SequencingMode Seq)[] sessions)
    {
        var t = new TunnelSpec
        {
            TunnelId = 7, PeerTunnelId = 8, Encapsulation = encap, Local = IPAddress.Parse("192.0.2.1"),
            Remote = IPAddress.Parse("192.0.2.2"), SourcePort = 1701, DestinationPort = 1701,
        };
        var tc = new Counters();
        var map = new Dictionary<uint, Fs>();
        var rt = new System.Collections.Concurrent.ConcurrentDictionary<uint, SessionRuntime>();
        foreach (var (id, cookie, l2, seq) in sessions)
        {
            var pipe = new Pipe();
            _pipes.Add(pipe);
            var spec = new SessionSpec
            {
                TunnelId = 7, SessionId = id, PeerSessionId = id ^ 0x5555, Cookie = Hex.B("a0a1a2a3"), PeerCookie = Hex.B(cookie),
                L2SpecType = l2, Sequencing = seq,
            };
            spec.Validate();
            var r = SessionRuntime.Create(t, spec, pipe.WriteFd, -1, new Counters(), tc);
            rt[id] = r;
            map[id] = new Fs
            {
                Id = id, PeerCookie = spec.PeerCookie, L2Spec = l2, Seq = seq, Runtime = r, Tap = pipe,
                Shadow = new Sequencer(spec.SendSequence, spec.RecvSequence),
            };
        }
        return new Ft
        {
            Encap = encap, Sessions = map, List = map.Values.ToArray(),
            Runtime = new TunnelRuntime
            {
                TunnelId = 7, SocketFd = -1, Encapsulation = encap, SkipIpHeader = false, Counters = tc, Sessions = rt,
            },
        };
    }

    private enum Outcome { Invalid, CookieMismatch, SeqDiscard, WindowDiscard, ShortFrame, Delivered }

    /// <summary>What RFC 3931 §4.1 / RFC 4719 §3 and l2tp_core say should happen to this packet.</summary>
    private static Outcome Predict(ReadOnlySpan<byte> p, Ft t, out Fs? session, out int payload)
    {
        session = null;
        payload = 0;
        int o;
        uint sid;
        if (t.Encap == Encapsulation.Udp)
        {
            // T(1) L(1) x x S(1) x x x x x x x Ver(4), reserved(16), session id(32)
            if (p.Length < 8 || (p[0] & 0x80) != 0 || (p[1] & 0x0F) != 3)
                return Outcome.Invalid;
            sid = (uint)(p[4] << 24 | p[5] << 16 | p[6] << 8 | p[7]);
            o = 8;
        }
        else
        {
            if (p.Length < 4)
                return Outcome.Invalid;
            sid = (uint)(p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]);
            o = 4;
        }
        if (sid == 0 || !t.Sessions.TryGetValue(sid, out var s))
            return Outcome.Invalid;
        int sub = s.L2Spec == L2SpecType.Default ? 4 : 0;
        if (p.Length < o + s.PeerCookie.Length + sub)
            return Outcome.Invalid;
        session = s;
        for (int i = 0; i < s.PeerCookie.Length; i++)
            if (p[o + i] != s.PeerCookie[i])
                return Outcome.CookieMismatch;
        o += s.PeerCookie.Length;
        bool hasSeq = false;
        uint ns = 0;
        if (sub == 4)
        {
            // x S x x x x x x, then a 24-bit sequence number
            hasSeq = (p[o] & 0x40) != 0;
            ns = (uint)(p[o + 1] << 16 | p[o + 2] << 8 | p[o + 3]);
            o += 4;
        }
        payload = o;
        switch (s.Shadow.OnReceive(hasSeq, ns))
        {
            case SequenceVerdict.DiscardSequence: return Outcome.SeqDiscard;
            case SequenceVerdict.DiscardWindow: return Outcome.WindowDiscard;
        }
        return p.Length - o < 14 ? Outcome.ShortFrame : Outcome.Delivered;
    }

    private static int BuildValid(Random rng, byte[] buf, Ft t, Fs s)
    {
        int o = 0;
        if (t.Encap == Encapsulation.Udp)
        {
            BinaryPrimitives.WriteUInt32BigEndian(buf, 0x00030000);
            o = 4;
        }
        BinaryPrimitives.WriteUInt32BigEndian(buf.AsSpan(o), s.Id);
        o += 4;
        s.PeerCookie.CopyTo(buf, o);
        o += s.PeerCookie.Length;
        if (s.L2Spec == L2SpecType.Default)
        {
            bool seq = s.Seq != SequencingMode.None ? rng.Next(10) != 0 : rng.Next(4) == 0;
            uint word = 0;
            if (seq)
            {
                int r = rng.Next(100);
                // Mostly in order; sometimes a repeat, a small or a large jump, to walk the sequencer through its states.
                uint ns = r < 80 ? s.NextNs : r < 88 ? s.NextNs - 1 : r < 96 ? s.NextNs + (uint)rng.Next(1, 5) : (uint)rng.Next();
                ns &= 0xFFFFFF;
                s.NextNs = (ns + 1) & 0xFFFFFF;
                word = 0x4000_0000 | ns;
            }
            BinaryPrimitives.WriteUInt32BigEndian(buf.AsSpan(o), word);
            o += 4;
        }
        int frame = rng.Next(10) == 0 ? rng.Next(0, 14) : rng.Next(14, 200);
        rng.NextBytes(buf.AsSpan(o, frame));
        return o + frame;
    }

    private static int Mutate(Random rng, byte[] buf, int len, Ft t)
    {
        switch (rng.Next(10))
        {
            case 0:
            case 1:
                return len;   // valid
            case 2:   // flip 1..3 bits in the first 24 bytes
                for (int k = rng.Next(1, 4); k > 0; k--)
                {
                    int i = rng.Next(Math.Min(24, Math.Max(1, len)));
                    if (i < len) buf[i] ^= (byte)(1 << rng.Next(8));
                }
                return len;
            case 3:   // a random byte in the header
                if (len > 0) buf[rng.Next(Math.Min(24, len))] = (byte)rng.Next(256);
                return len;
            case 4:   // truncate anywhere, mostly inside the header
                return rng.Next(2) == 0 ? rng.Next(Math.Min(len, 24) + 1) : rng.Next(len + 1);
            case 5:   // extend with random bytes
            {
                int add = rng.Next(1, 64);
                rng.NextBytes(buf.AsSpan(len, add));
                return len + add;
            }
            case 6:   // another session id: random, 0, a neighbour or one of the other tunnel's ids
            {
                int at = t.Encap == Encapsulation.Udp ? 4 : 0;
                if (len < at + 4) return len;
                uint id = rng.Next(4) switch
                {
                    0 => (uint)rng.NextInt64(0, 1L << 32),
                    1 => 0,
                    2 => BinaryPrimitives.ReadUInt32BigEndian(buf.AsSpan(at)) + (uint)rng.Next(-2, 3),
                    _ => t.List[rng.Next(t.List.Length)].Id,
                };
                BinaryPrimitives.WriteUInt32BigEndian(buf.AsSpan(at), id);
                return len;
            }
            case 7:   // the flags word of another version or a control message (UDP), or a bit in the sublayer
            {
                if (len >= 2 && t.Encap == Encapsulation.Udp)
                    BinaryPrimitives.WriteUInt16BigEndian(buf, (ushort)rng.Next(4) switch { 0 => 0xC803, 1 => 0x0002, 2 => 0x8003, _ => (ushort)rng.Next(65536) });
                else if (len >= 8)
                    buf[rng.Next(4, 8)] ^= 0x40;
                return len;
            }
            case 8:   // entirely random bytes
            {
                int n = rng.Next(0, 80);
                rng.NextBytes(buf.AsSpan(0, n));
                return n;
            }
            default:  // a valid header followed by a frame cut short
                return Math.Min(len, rng.Next(0, 40));
        }
    }

    [Fact]
    public void Million_random_and_mutated_packets_never_throw_and_deliver_only_valid_frames()
    {
        var tunnels = new[]
        {
            MakeTunnel(Encapsulation.Udp,
                (1, "", L2SpecType.Default, SequencingMode.None),
                (2, "cafef00d", L2SpecType.None, SequencingMode.None),
                (0x80000003, "0102030405060708", L2SpecType.Default, SequencingMode.Recv),
                (0x00030000, "deadbeef", L2SpecType.Default, SequencingMode.Both),
                (0xFFFFFFFF, "", L2SpecType.None, SequencingMode.None)),
            MakeTunnel(Encapsulation.Ip,
                (1, "1122334455667788", L2SpecType.None, SequencingMode.None),
                (0x00030000, "", L2SpecType.Default, SequencingMode.None),
                (5, "a1b2c3d4", L2SpecType.Default, SequencingMode.Both),
                (6, "", L2SpecType.None, SequencingMode.None)),
        };
        var rng = new Random(Seed);
        var buf = new byte[512];
        var rd = new byte[1 << 16];
        var counts = new long[Enum.GetValues<Outcome>().Length];
        var sw = Stopwatch.StartNew();

        for (int iter = 0; iter < Packets; iter++)
        {
            var t = tunnels[rng.Next(tunnels.Length)];
            var s0 = t.List[rng.Next(t.List.Length)];
            int len = Mutate(rng, buf, BuildValid(rng, buf, t, s0), t);
            var packet = buf.AsSpan(0, len);

            // The codec on its own, with every session's settings: must not throw whatever the bytes.
            foreach (var encap in new[] { Encapsulation.Udp, Encapsulation.Ip })
                if (L2tpHeader.ReadSessionId(packet, encap, out _, out int off) == DropReason.None)
                    foreach (var any in t.List)
                        L2tpHeader.ReadAfterSessionId(packet, off, any.PeerCookie, any.L2Spec, out _, out _, out _);

            var expect = Predict(packet, t, out var s, out int payload);
            counts[(int)expect]++;
            var tc = t.Runtime.Counters;
            long invalid0 = tc.RxInvalid, tpk0 = tc.RxPackets, tby0 = tc.RxBytes;
            long pk0 = s?.Runtime.Counters.RxPackets ?? 0, by0 = s?.Runtime.Counters.RxBytes ?? 0, err0 = s?.Runtime.Counters.RxErrors ?? 0,
                ck0 = s?.Runtime.Counters.RxCookieDiscards ?? 0, sq0 = s?.Runtime.Counters.RxSeqDiscards ?? 0;

            try
            {
                RxLoop.Deliver(t.Runtime, packet);
            }
            catch (Exception e)
            {
                throw new Xunit.Sdk.XunitException($"packet {iter} ({t.Encap}, {Hex.S(packet)}) threw: {e}");
            }

            string Ctx() => $"packet {iter} ({t.Encap}, expected {expect}, session {s?.Id}): {Hex.S(buf.AsSpan(0, len))}";
            // A delivery shows as one more packet on the tunnel; it must be the predicted one.
            bool delivered = tc.RxPackets != tpk0;
            if (delivered != (expect == Outcome.Delivered))
                throw new Xunit.Sdk.XunitException($"delivered={delivered} but {Ctx()}");
            switch (expect)
            {
                case Outcome.Delivered:
                    long n = Sys.Read(s!.Tap.ReadFd, rd);
                    var frame = packet[payload..];
                    if (n != frame.Length || !rd.AsSpan(0, (int)n).SequenceEqual(frame))
                        throw new Xunit.Sdk.XunitException($"wrote {n} bytes, not the {frame.Length}-byte frame, for {Ctx()}");
                    if (s.Runtime.Counters.RxPackets != pk0 + 1 || s.Runtime.Counters.RxBytes != by0 + len || tc.RxBytes != tby0 + len)
                        throw new Xunit.Sdk.XunitException($"rx counters wrong for {Ctx()}");
                    break;
                case Outcome.Invalid:
                    if (tc.RxInvalid != invalid0 + 1)
                        throw new Xunit.Sdk.XunitException($"tunnel rx_invalid not counted for {Ctx()}");
                    break;
                case Outcome.CookieMismatch:
                    if (s!.Runtime.Counters.RxCookieDiscards != ck0 + 1 || s.Runtime.Counters.RxErrors != err0 + 1)
                        throw new Xunit.Sdk.XunitException($"cookie discard not counted for {Ctx()}");
                    break;
                case Outcome.SeqDiscard:
                    if (s!.Runtime.Counters.RxSeqDiscards != sq0 + 1 || s.Runtime.Counters.RxErrors != err0 + 1)
                        throw new Xunit.Sdk.XunitException($"seq discard not counted for {Ctx()}");
                    break;
                default:
                    if (s!.Runtime.Counters.RxErrors != err0 + 1 || s.Runtime.Counters.RxSeqDiscards != sq0)
                        throw new Xunit.Sdk.XunitException($"rx_errors not counted for {Ctx()}");
                    break;
            }
            if (expect != Outcome.Invalid && tc.RxInvalid != invalid0)
                throw new Xunit.Sdk.XunitException($"tunnel rx_invalid counted for {Ctx()}");
        }
        sw.Stop();

        // Nothing may be left in any TAP: every write was matched to a predicted delivery.
        foreach (var t in tunnels)
            foreach (var s in t.List)
                Assert.True(Sys.Read(s.Tap.ReadFd, rd) < 0, $"session {s.Id} has an unexpected frame left");

        string summary = string.Join(", ", Enum.GetValues<Outcome>().Select(o => $"{o} {counts[(int)o]}"));
        _out.WriteLine($"{Packets} packets in {sw.Elapsed.TotalSeconds:F2} s: {summary}");
        Console.WriteLine($"[fuzz] {Packets} packets in {sw.Elapsed.TotalSeconds:F2} s: {summary}");
        // Every kind of outcome must really have been exercised.
        Assert.All(counts, c => Assert.True(c > 1000, summary));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), $"fuzz run took {sw.Elapsed}");
    }
}

using L2tp.Fuzz;
using L2tp.Netlink;
using L2tp.Protocol;
using Xunit;
using static L2tp.Tests.Hex;

namespace L2tp.Tests;

/// <summary>
/// Every file of the fuzz corpus (tests/fuzz/corpus/TARGET: the hand-made seeds and what fuzzing found) replayed
/// through its target, uninstrumented and without AFL: an input that once broke a parser or an invariant fails here.
/// </summary>
public class FuzzCorpusTests
{
    private static string CorpusRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var corpus = Path.Combine(dir.FullName, "tests", "fuzz", "corpus");
            if (Directory.Exists(corpus))
                return corpus;
        }
        throw new DirectoryNotFoundException($"no tests/fuzz/corpus above {AppContext.BaseDirectory}");
    }

    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (var target in FuzzTargets.Names)
            foreach (var file in Directory.GetFiles(Path.Combine(CorpusRoot(), target)).OrderBy(f => f, StringComparer.Ordinal))
                data.Add(target, Path.GetFileName(file));
        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Corpus_input_passes_its_target(string target, string file) =>
        FuzzTargets.Run(target, File.ReadAllBytes(Path.Combine(CorpusRoot(), target, file)));

    [Fact]
    public void Every_target_has_a_seed_corpus()
    {
        foreach (var target in FuzzTargets.Names)
            Assert.True(Directory.GetFiles(Path.Combine(CorpusRoot(), target), "seed-*").Length >= 8, $"tests/fuzz/corpus/{target} has too few seeds");
    }

    /// <summary>The control-socket decoding the forwarder does, for one message of a received buffer.</summary>
    private static NetlinkAttributes Attributes(string hex, int message)
    {
        var m = NetlinkMessage.Split(B(hex))[message];
        Assert.Equal(ControlTarget.FamilyId, m.Type);
        return m.GenlAttributes;
    }

    // Found by the control target within a minute (afl-tmin minimized): a TUNNEL_CREATE with ENCAP_TYPE 0x3030 that
    // ReadTunnelCreate decoded and TunnelSpec.Validate passed, so only ControlServer's own check stood between it and
    // a tunnel the data plane treats as IP encapsulation.
    private const string TunnelEncapsulation0x3030 =
        "5c00000020003030303030303030303001303030080009003030303008000a003030303005003030303030300600020030303030" +
        "14001f00303030303030303030303030303030301400200030303030303030303030303030303030";

    [Fact]
    public void Fuzz_found_tunnel_create_with_an_unknown_encapsulation_fails_validation()
    {
        var spec = L2tpGenl.ReadTunnelCreate(Attributes(TunnelEncapsulation0x3030, 0));
        Assert.Equal((Encapsulation)0x3030, spec.Encapsulation);
        var e = Assert.Throws<L2tpException>(spec.Validate);
        Assert.Equal("L2tp.InvalidEncapsulation", e.ErrorId);
        Assert.Equal(L2tpErrorKind.InvalidArgument, e.Kind);
    }

    // Found the same way: a SESSION_CREATE (the second message of the buffer) with L2SPEC_TYPE 0x30.
    private const string SessionL2SpecType0x30 =
        "5c000000303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030" +
        "30303030303030303030303030303030303030303030303030303030303030303030303030303030780000002000303030303030" +
        "3030303005303030080009003030303008000b003030303008000c00303030300600303030303030050005003030303005003030" +
        "303030300500303030303030050030303030303008003030303030300c00303030303030303030300d0030303030303030303030" +
        "30303030";

    [Fact]
    public void Fuzz_found_session_create_with_an_unknown_sublayer_type_fails_validation()
    {
        var spec = L2tpGenl.ReadSessionCreate(Attributes(SessionL2SpecType0x30, 1));
        Assert.Equal((L2SpecType)0x30, spec.L2SpecType);
        var e = Assert.Throws<L2tpException>(spec.Validate);
        Assert.Equal("L2tp.InvalidL2SpecType", e.ErrorId);
        Assert.Equal(L2tpErrorKind.InvalidArgument, e.Kind);
    }
}

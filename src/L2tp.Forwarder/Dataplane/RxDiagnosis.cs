using System.Buffers.Binary;
using L2tp.Protocol;

namespace L2tp.Forwarder.Dataplane;

/// <summary>
/// The receive loop's record of what it could not deliver, into the tunnel's <see cref="DiagnosisTable"/>: called only
/// for packets it drops or suspects, never for a good one, and allocation-free (DIAGNOSE reads the table).
/// </summary>
internal static class RxDiagnosis
{
    /// <summary>A packet refused before a session was found: unknown session id, control message, other version.</summary>
    public static void Undeliverable(TunnelRuntime t, ReadOnlySpan<byte> packet, DropReason reason, uint sessionId)
    {
        switch (reason)
        {
            case DropReason.None:
                t.Diagnosis.Record(L2tpFindingKind.UnknownSession, sessionId, sessionId, 0, CoarseClock.Rx);
                break;
            case DropReason.Control:
                t.Diagnosis.Record(L2tpFindingKind.ControlMessage, 0, 0, 0, CoarseClock.Rx);
                break;
            case DropReason.BadVersion:
                t.Diagnosis.Record(L2tpFindingKind.WrongVersion, 0, (ulong)(BinaryPrimitives.ReadUInt16BigEndian(packet) & L2tpHeader.VersionMask), 0, CoarseClock.Rx);
                break;
        }
    }

    /// <summary>A packet of a known session whose cookie did not match or whose frame does not start as one would.</summary>
    public static void Header(TunnelRuntime t, SessionRuntime s, ReadOnlySpan<byte> packet, int offset)
    {
        var (kind, value, length) = PacketDiagnosis.ExplainHeader(packet, offset, s.PeerCookie, s.L2SpecType);
        if (kind != 0)
            t.Diagnosis.Record(kind, s.SessionId, value, length, CoarseClock.Rx);
    }

    /// <summary>A frame dropped for its length: one longer than the session interface takes is recorded.</summary>
    public static void Length(TunnelRuntime t, SessionRuntime s, int frameLength)
    {
        if (frameLength > s.MaxFrame)
            t.Diagnosis.Record(L2tpFindingKind.FrameTooLong, s.SessionId, (ulong)frameLength, 0, CoarseClock.Rx);
    }

    /// <summary>A packet the sequencing rules dropped: unsequenced while Recv, or out of order.</summary>
    public static void Sequence(TunnelRuntime t, SessionRuntime s, bool hasSeq) =>
        t.Diagnosis.Record(hasSeq ? L2tpFindingKind.OutOfOrder : L2tpFindingKind.SequenceMissing, s.SessionId, 0, 0, CoarseClock.Rx);
}

using L2tp.Protocol;

namespace L2tp.Forwarder.Dataplane;

/// <summary>What the receive-side sequencing rules decided for one packet.</summary>
internal enum SequenceVerdict : byte
{
    Deliver,
    /// <summary>Out of order, or unsequenced while seq recv: counted in rx_seq_discards and rx_errors.</summary>
    DiscardSequence,
    /// <summary>Outside the receive window: counted in rx_errors only, as the kernel does.</summary>
    DiscardWindow,
}

/// <summary>
/// Sequence numbers of one session, with the rules of Linux l2tp_core for sessions without a reorder timeout
/// (ip-l2tp cannot set one): an out-of-order packet is dropped until more than four in a row re-sync the expected
/// number; seq recv drops unsequenced packets; and with LNS mode off, send_seq follows the peer.
/// </summary>
internal sealed class Sequencer
{
    private const uint Max = L2tpHeader.SequenceMask;
    private const uint WindowSize = Max / 2;
    private const int OosCountMax = 4;

    private volatile bool _sendSeq;
    private uint _ns;
    private uint _nr;
    private bool _reorderSkip = true;
    private uint _nrOos;
    private int _nrOosCount;

    public Sequencer(bool sendSeq, bool recvSeq)
    {
        _sendSeq = sendSeq;
        RecvSeq = recvSeq;
    }

    /// <summary>Whether the next sent packet carries a sequence number; changes as the peer is followed.</summary>
    public bool SendSeq => _sendSeq;
    public bool RecvSeq { get; }

    /// <summary>The number for the next sent packet (tx thread only).</summary>
    public uint NextSend()
    {
        uint n = _ns;
        _ns = (_ns + 1) & Max;
        return n;
    }

    /// <summary>Applies the receive rules to one packet (rx thread only).</summary>
    public SequenceVerdict OnReceive(bool hasSeq, uint ns)
    {
        if (hasSeq)
        {
            // LNS mode is always off for static tunnels: a sequenced peer turns our sending on.
            if (!_sendSeq)
                _sendSeq = true;
        }
        else
        {
            if (RecvSeq)
                return SequenceVerdict.DiscardSequence;
            if (_sendSeq)
                _sendSeq = false;
            return SequenceVerdict.Deliver;
        }

        if (((ns - _nr) & Max) >= WindowSize)
            return SequenceVerdict.DiscardWindow;

        if (ns != _nr)
        {
            uint next = (_nrOos + 1) & Max;
            _nrOosCount = ns == next ? _nrOosCount + 1 : 0;
            _nrOos = ns;
            if (_nrOosCount > OosCountMax)
                _reorderSkip = true;
            if (!_reorderSkip)
                return SequenceVerdict.DiscardSequence;
        }

        if (_reorderSkip)
        {
            _reorderSkip = false;
            _nr = ns;
        }
        _nr = (_nr + 1) & Max;
        return SequenceVerdict.Deliver;
    }
}

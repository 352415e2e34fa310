using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace L2tp.Configuration;

/// <summary>An <see cref="L2tpConfiguration"/> as the file's JSON: every field written, so a file says what it does.</summary>
internal static class ConfigurationWriter
{
    public static string Write(L2tpConfiguration c)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (c.Schema is not null)
                w.WriteString("$schema", c.Schema);
            w.WriteStartArray("namespaces");
            foreach (var ns in c.Namespaces)
                Namespace(w, ns);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    private static void Namespace(Utf8JsonWriter w, L2tpNamespaceConfiguration ns)
    {
        w.WriteStartObject();
        w.WriteString("name", ns.Name);
        if (ns.Backend is { } b and not BackendKind.Auto)
            w.WriteString("backend", b.ToString());
        w.WriteStartArray("tunnels");
        foreach (var t in ns.Tunnels)
            Tunnel(w, t);
        w.WriteEndArray();
        if (ns.Bridges is not null)
        {
            w.WriteStartArray("bridges");
            foreach (var br in ns.Bridges)
            {
                w.WriteStartObject();
                w.WriteString("name", br.Name);
                w.WriteBoolean("up", br.Up);
                w.WriteStartArray("ports");
                foreach (var p in br.Ports)
                    w.WriteStringValue(p);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    private static void Tunnel(Utf8JsonWriter w, L2tpTunnelConfiguration t)
    {
        w.WriteStartObject();
        w.WriteNumber("tunnelId", t.TunnelId);
        w.WriteNumber("peerTunnelId", t.PeerTunnelId);
        w.WriteString("encapsulation", t.Encapsulation.ToString());
        w.WriteString("local", t.Local);
        w.WriteString("remote", t.Remote);
        w.WriteNumber("sourcePort", t.SourcePort);
        w.WriteNumber("destinationPort", t.DestinationPort);
        if (t.UdpChecksum is { } csum)
            w.WriteBoolean("udpChecksum", csum);
        w.WriteBoolean("udp6ChecksumTx", t.Udp6ChecksumTx);
        w.WriteBoolean("udp6ChecksumRx", t.Udp6ChecksumRx);
        w.WriteStartArray("sessions");
        foreach (var s in t.Sessions)
            Session(w, s);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void Session(Utf8JsonWriter w, L2tpSessionConfiguration s)
    {
        w.WriteStartObject();
        w.WriteNumber("sessionId", s.SessionId);
        w.WriteNumber("peerSessionId", s.PeerSessionId);
        if (s.InterfaceName is not null)
            w.WriteString("interfaceName", s.InterfaceName);
        w.WriteString("cookie", s.Cookie);
        w.WriteString("peerCookie", s.PeerCookie);
        w.WriteString("l2SpecType", s.L2SpecType.ToString());
        w.WriteString("sequencing", s.Sequencing.ToString());
        if (s.Interface is { } i)
        {
            w.WriteStartObject("interface");
            if (i.Up is { } up)
                w.WriteBoolean("up", up);
            if (i.Mtu is not null)
            {
                if (int.TryParse(i.Mtu, NumberStyles.None, CultureInfo.InvariantCulture, out int n))
                    w.WriteNumber("mtu", n);
                else
                    w.WriteString("mtu", i.Mtu);
            }
            if (i.MacAddress is not null)
                w.WriteString("macAddress", i.MacAddress);
            if (i.Addresses is not null)
            {
                w.WriteStartArray("addresses");
                foreach (var a in i.Addresses)
                {
                    w.WriteStartObject();
                    w.WriteString("address", a.Address);
                    if (a.Peer is not null)
                        w.WriteString("peer", a.Peer);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }
}

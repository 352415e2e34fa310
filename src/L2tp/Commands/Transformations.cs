using System.Management.Automation;
using System.Net;

namespace L2tp.Commands;

/// <summary>Lets a [bool] parameter take ip-l2tp's on/off as well as $true/$false.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class OnOffTransformationAttribute : ArgumentTransformationAttribute
{
    /// <summary>Maps on/off/true/false/1/0 (any case) to a bool; leaves anything else to PowerShell's own conversion.</summary>
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object value = inputData is PSObject pso ? pso.BaseObject : inputData;
        if (value is string s)
        {
            switch (s.Trim().ToLowerInvariant())
            {
                case "on": case "true": case "1": case "yes": return true;
                case "off": case "false": case "0": case "no": return false;
                default:
                    throw new ArgumentTransformationMetadataException($"'{s}' is not on or off.");
            }
        }
        return value;
    }
}

/// <summary>Parses the address parameters, where ip-l2tp also accepts the word 'any'.</summary>
internal static class AddressParser
{
    public static IPAddress Parse(string text, string parameterName, bool allowAny)
    {
        if (allowAny && string.Equals(text, "any", StringComparison.OrdinalIgnoreCase))
            return IPAddress.Any;
        if (IPAddress.TryParse(text, out var a) && (text.Contains(':') || text.Count(c => c == '.') == 3))
            return a;
        throw new L2tpException("L2tp.InvalidAddress", L2tpErrorKind.InvalidArgument, text,
            $"-{parameterName} '{text}' is not an IPv4 or IPv6 address{(allowAny ? " (or 'any')" : "")}.");
    }
}

/// <summary>Transforms an L2tpBridge object into its name, so -Bridge takes (New-L2tpBridge br0) as well as 'br0'.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class BridgeNameTransformationAttribute : ArgumentTransformationAttribute
{
    /// <summary>Returns the bridge's name for an L2tpBridge, and the input otherwise.</summary>
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object v = inputData is PSObject p ? p.BaseObject : inputData;
        return v is L2tpBridge b ? b.Name : inputData;
    }
}

/// <summary>
/// Lets a TimeSpan parameter take a plain number as milliseconds (-ReorderTimeout 100), the unit of the kernel's
/// L2TP_ATTR_RECV_TIMEOUT; PowerShell alone would read 100 as ticks (10 µs). A TimeSpan or "0:0:0.1" passes as is.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class MillisecondsTransformationAttribute : ArgumentTransformationAttribute
{
    /// <summary>Maps a number, or a string that is one, to that many milliseconds; leaves anything else to PowerShell.</summary>
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object value = inputData is PSObject pso ? pso.BaseObject : inputData;
        switch (value)
        {
            case int or long or uint or ulong or short or ushort or byte or sbyte or double or float or decimal:
                return TimeSpan.FromMilliseconds(Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture));
            case string s when double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double ms):
                return TimeSpan.FromMilliseconds(ms);
            default:
                return inputData;
        }
    }
}

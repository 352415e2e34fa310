using System.Reflection;
using System.Runtime.InteropServices;

namespace L2tp.HelpGen;

/// <summary>A cmdlet as the module assembly declares it.</summary>
internal sealed class RealCmdlet
{
    public required string Name { get; init; }
    public required string TypeName { get; init; }
    public bool SupportsShouldProcess { get; init; }
    public List<RealParameter> Parameters { get; } = new();
    /// <summary>Full names of the [OutputType] types, System.Void excluded.</summary>
    public List<string> OutputTypes { get; } = new();
}

/// <summary>A cmdlet parameter as its [Parameter] and [Alias] attributes declare it.</summary>
internal sealed class RealParameter
{
    public required string Name { get; init; }
    /// <summary>The .NET type name as platyPS writes it (Nullable&lt;T&gt; as T).</summary>
    public required string TypeName { get; init; }
    public required string FullTypeName { get; init; }
    /// <summary>Full name of the class that declares the property (for its XML doc comment).</summary>
    public string DeclaringType { get; init; } = "";
    public bool IsSwitch => FullTypeName == "System.Management.Automation.SwitchParameter";
    public bool Mandatory { get; init; }
    public int? Position { get; init; }
    public bool ByValue { get; init; }
    public bool ByPropertyName { get; init; }
    public List<string> Aliases { get; } = new();
    public List<string> ParameterSets { get; } = new();
    /// <summary>Enum member names of enum parameters, or the [ValidateSet] values; empty otherwise.</summary>
    public List<string> AcceptedValues { get; } = new();
    /// <summary>[SupportsWildcards].</summary>
    public bool Globbing { get; init; }
    /// <summary>Its [Parameter] attributes disagree on Mandatory, Position or pipeline input between parameter sets.</summary>
    public bool VariesBySet { get; init; }
}

/// <summary>
/// Reads the cmdlets of the module assembly with MetadataLoadContext: attributes and types only, nothing of the
/// assembly runs, and the generator needs no PowerShell. System.Management.Automation comes from
/// PowerShellStandard.Library beside the generator (or from --reference).
/// </summary>
internal static class CmdletReflector
{
    private const string Sma = "System.Management.Automation.";

    public static Dictionary<string, RealCmdlet> Read(string assemblyPath, IEnumerable<string> references)
    {
        var paths = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        void Add(string p)
        {
            // First one wins: the module's own folder, then explicit references, then the generator's folder, then the runtime.
            string name = Path.GetFileNameWithoutExtension(p);
            paths.TryAdd(name, p);
        }
        foreach (string p in Directory.EnumerateFiles(Path.GetDirectoryName(Path.GetFullPath(assemblyPath))!, "*.dll"))
            Add(p);
        foreach (string r in references)
            Add(Path.GetFullPath(r));
        foreach (string p in Directory.EnumerateFiles(AppContext.BaseDirectory, "System.Management.Automation.dll"))
            Add(p);
        foreach (string p in Directory.EnumerateFiles(RuntimeEnvironment.GetRuntimeDirectory(), "*.dll"))
            Add(p);
        if (!paths.ContainsKey("System.Management.Automation"))
            throw new FileNotFoundException("System.Management.Automation.dll was not found: pass --reference PATH.");

        using var context = new MetadataLoadContext(new PathAssemblyResolver(paths.Values));
        Assembly asm = context.LoadFromAssemblyPath(Path.GetFullPath(assemblyPath));
        Type?[] types;
        try
        {
            types = asm.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            types = e.Types;
        }

        var result = new Dictionary<string, RealCmdlet>(StringComparer.OrdinalIgnoreCase);
        foreach (Type t in types.OfType<Type>().Where(t => !t.IsAbstract && t.IsPublic))
        {
            var cmdletAttr = t.GetCustomAttributesData().FirstOrDefault(a => a.AttributeType.FullName == Sma + "CmdletAttribute");
            if (cmdletAttr is null)
                continue;
            var cmdlet = new RealCmdlet
            {
                Name = $"{cmdletAttr.ConstructorArguments[0].Value}-{cmdletAttr.ConstructorArguments[1].Value}",
                TypeName = t.FullName!,
                SupportsShouldProcess = Named(cmdletAttr, "SupportsShouldProcess") is true,
            };
            foreach (var o in t.GetCustomAttributesData().Where(a => a.AttributeType.FullName == Sma + "OutputTypeAttribute"))
                foreach (var arg in o.ConstructorArguments)
                    foreach (var v in arg.Value is IEnumerable<CustomAttributeTypedArgument> list ? list : new[] { arg })
                    {
                        string? n = v.Value is Type ot ? ot.FullName : v.Value as string;
                        if (n is not null && n != "System.Void")
                            cmdlet.OutputTypes.Add(n);
                    }
            ReadParameters(t, cmdlet);
            result[cmdlet.Name] = cmdlet;
        }
        return result;
    }

    private static void ReadParameters(Type t, RealCmdlet cmdlet)
    {
        // Derived class first, then its bases: the order PowerShell lists them in.
        for (Type? level = t; level is not null && level.FullName?.StartsWith(Sma, StringComparison.Ordinal) != true; level = level.BaseType)
        {
            foreach (PropertyInfo prop in level.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            {
                var attrs = prop.GetCustomAttributesData();
                var parameterAttrs = attrs.Where(a => a.AttributeType.FullName == Sma + "ParameterAttribute").ToList();
                if (parameterAttrs.Count == 0 || cmdlet.Parameters.Any(p => p.Name == prop.Name))
                    continue;
                Type type = prop.PropertyType;
                if (type.IsGenericType && type.GetGenericTypeDefinition().FullName == "System.Nullable`1")
                    type = type.GetGenericArguments()[0];
                var first = parameterAttrs[0];
                var p = new RealParameter
                {
                    Name = prop.Name,
                    TypeName = type.IsGenericType ? type.ToString() : type.Name,
                    FullTypeName = type.FullName ?? type.Name,
                    DeclaringType = level.FullName ?? "",
                    Mandatory = Named(first, "Mandatory") is true,
                    Position = Named(first, "Position") is int pos && pos >= 0 ? pos : null,
                    ByValue = Named(first, "ValueFromPipeline") is true,
                    ByPropertyName = Named(first, "ValueFromPipelineByPropertyName") is true,
                    Globbing = attrs.Any(a => a.AttributeType.FullName == Sma + "SupportsWildcardsAttribute"),
                    VariesBySet = parameterAttrs.Select(a => (Named(a, "Mandatory"), Named(a, "Position"), Named(a, "ValueFromPipeline"),
                        Named(a, "ValueFromPipelineByPropertyName"))).Distinct().Count() > 1,
                };
                foreach (var pa in parameterAttrs)
                    p.ParameterSets.Add(Named(pa, "ParameterSetName") as string ?? "__AllParameterSets");
                foreach (var alias in attrs.Where(a => a.AttributeType.FullName == Sma + "AliasAttribute"))
                    foreach (var arg in alias.ConstructorArguments)
                        if (arg.Value is IEnumerable<CustomAttributeTypedArgument> names)
                            p.Aliases.AddRange(names.Select(n => (string)n.Value!));
                        else if (arg.Value is string s)
                            p.Aliases.Add(s);
                // [ValidateSet] narrows what is accepted; otherwise an enum's members are.
                foreach (var set in attrs.Where(a => a.AttributeType.FullName == Sma + "ValidateSetAttribute"))
                    foreach (var arg in set.ConstructorArguments)
                        if (arg.Value is IEnumerable<CustomAttributeTypedArgument> values)
                            p.AcceptedValues.AddRange(values.Select(v => (string)v.Value!));
                if (p.AcceptedValues.Count == 0 && type.IsEnum)
                    p.AcceptedValues.AddRange(type.GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => f.Name));
                cmdlet.Parameters.Add(p);
            }
        }
        if (cmdlet.SupportsShouldProcess)
        {
            foreach (var (name, alias) in new[] { ("WhatIf", "wi"), ("Confirm", "cf") })
            {
                var p = new RealParameter { Name = name, TypeName = "SwitchParameter", FullTypeName = Sma + "SwitchParameter" };
                p.Aliases.Add(alias);
                p.ParameterSets.Add("__AllParameterSets");
                cmdlet.Parameters.Add(p);
            }
        }
    }

    private static object? Named(CustomAttributeData a, string name)
    {
        foreach (var n in a.NamedArguments)
            if (n.MemberName == name)
                return n.TypedValue.Value;
        return null;
    }
}

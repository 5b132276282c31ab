using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace LispMobility.Agent.Service;

/// <summary>
/// Compiles every method of the agent's own assemblies once at start (<see cref="RuntimeHelpers.PrepareMethod(RuntimeMethodHandle)"/>),
/// beside the move warm-up: what that warm-up cannot reach (route programming, RLOC probing, the data plane's device calls, the
/// first packets at a site that had none) then compiles no method of ours during a first move.
/// </summary>
internal static class EagerJit
{
    private const BindingFlags Declared = BindingFlags.DeclaredOnly | BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;

    /// <summary>
    /// Methods compiled, the assemblies they are in, and how long it took. Best effort: a method that cannot be prepared (a
    /// type that does not load here) is passed over.
    /// </summary>
    public static (int Methods, IReadOnlyList<string> Assemblies, TimeSpan Took) Run(CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var prepared = 0;
        var assemblies = new List<string>();
        foreach (var assembly in OwnAssemblies())
        {
            assemblies.Add(assembly.GetName().Name!);
            foreach (var type in Types(assembly))
            {
                cancellationToken.ThrowIfCancellationRequested();
                // Open generic types and methods have no code until instantiated.
                if (type.ContainsGenericParameters) continue;
                foreach (var method in type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared)))
                {
                    if (method.IsAbstract || method.ContainsGenericParameters || method.GetMethodBody() is null) continue;
                    try
                    {
                        RuntimeHelpers.PrepareMethod(method.MethodHandle);
                        prepared++;
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        // A signature naming a type that does not load on this OS: that method is never called here either.
                    }
                }
            }
        }

        return (prepared, assemblies, watch.Elapsed);
    }

    private static IEnumerable<Assembly> OwnAssemblies()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<Assembly>([typeof(EagerJit).Assembly]);
        while (pending.TryPop(out var assembly))
        {
            if (!seen.Add(assembly.GetName().Name!)) continue;
            yield return assembly;
            foreach (var reference in assembly.GetReferencedAssemblies())
            {
                if (reference.Name?.StartsWith("LispMobility", StringComparison.Ordinal) != true || seen.Contains(reference.Name)) continue;
                Assembly? loaded = null;
                try
                {
                    loaded = Assembly.Load(reference);
                }
                catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
                {
                    // Not shipped with this build: nothing of it can run either.
                }

                if (loaded is not null) pending.Push(loaded);
            }
        }
    }

    private static Type[] Types(Assembly assembly)
    {
        try
        {
            return assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            return [.. e.Types.OfType<Type>()];
        }
    }
}

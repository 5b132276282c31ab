using BenchmarkDotNet.Running;
using LispMobility.Benchmarks.MapServer;

// Load drivers run on their own (they measure a live server, not a method); everything else is BenchmarkDotNet.
if (args.Length > 0 && args[0] == "load-register") return await LoadRegister.RunAsync(args[1..]);
if (args.Length > 0 && args[0] == "xtr-converge") return await LispMobility.Benchmarks.Xtr.MoveConvergence.RunAsync(args[1..]);
if (args.Length > 0 && args[0] is "mobility-converge" or "mobility-failover") return await LispMobility.Benchmarks.Mobility.MobilitySagas.RunAsync(args[0], args[1..]);

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;

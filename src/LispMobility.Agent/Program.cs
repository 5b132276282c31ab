using System.CommandLine;
using LispMobility.Agent.Cli;
using LispMobility.Agent.Lab;

var root = new RootCommand("lispmobility: the network follows the VM (LISP host mobility for hypervisor hosts)");

var lab = new Command("lab", "Run the embedded lab: Map-Server, two data centers and a branch on loopback; move a VM and fail a site over");
lab.SetAction(async (_, ct) => await new LabScenario(Console.Out).RunAsync(ct) ? 0 : 1);
root.Subcommands.Add(lab);

var configFile = new Argument<FileInfo>("file") { Description = "appsettings.json to check" };
var validate = new Command("validate", "Check a configuration file; prints every error with its path") { configFile };
validate.SetAction(parse => ConfigCommands.Validate(parse.GetValue(configFile)!, Console.Out));
var config = new Command("config", "Configuration tools") { validate };
root.Subcommands.Add(config);

var msConfig = new Option<FileInfo>("--config") { Description = "configuration file with a MapServer section", Required = true };
var mapServer = new Command("map-server", "Run the mapping system (Map-Server/Map-Resolver) alone") { msConfig };
mapServer.SetAction(async (parse, ct) => await ConfigCommands.RunMapServerAsync(parse.GetValue(msConfig)!, ct));
root.Subcommands.Add(mapServer);

return await root.Parse(args).InvokeAsync();

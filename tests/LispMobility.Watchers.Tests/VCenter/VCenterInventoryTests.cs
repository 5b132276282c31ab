using System.Net;
using System.Net.NetworkInformation;
using LispMobility.Watchers.VCenter;

namespace LispMobility.Watchers.Tests.VCenter;

public sealed class VCenterInventoryTests
{
    private static readonly PhysicalAddress Mac = PhysicalAddress.Parse("00-0C-29-00-00-01");
    private static readonly IPAddress Ip = IPAddress.Parse("10.0.0.42");

    private static VCenterInventory Inventory()
    {
        var inventory = new VCenterInventory(WatcherRun.Sites);
        inventory.SetHosts([new HostPlacement("host-42", "DC0_C0_H1", "c-27", "DC0_C0", "paris"), new HostPlacement("host-21", "DC0_H0", null, null, "dr")]);
        return inventory;
    }

    [Fact]
    public void Powered_off_vm_keeps_its_last_addresses_and_they_travel_with_the_dr_power_on()
    {
        var inventory = Inventory();
        Assert.Equal(WorkloadChange.Discovered, inventory.Apply(new VmState("vm-1", "web", "host-42", true, [Mac], [Ip]), 1)?.Change);
        var off = inventory.Apply(new VmState("vm-1", "web", "host-42", false, [], []), 2);
        Assert.Equal(WorkloadChange.PoweredOff, off?.Change);
        Assert.Equal([Ip], off!.Addresses);
        Assert.Null(inventory.Apply(new VmState("vm-1", "web", "host-21", false, [], []), 3)); // cold relocation
        var on = inventory.Apply(new VmState("vm-1", "web", "host-21", true, [], []), 4);
        Assert.Equal((WorkloadChange.PoweredOn, "DC0_H0", "dr", "DC0_C0_H1", "paris"), (on!.Change, on.Host, on.Site, on.PreviousHost, on.PreviousSite));
        Assert.Equal([Ip], on.Addresses);
        Assert.Equal([Mac], on.Macs);
    }

    [Fact]
    public void New_guest_addresses_are_news_an_unchanged_state_is_not_and_a_running_vm_that_disappears_is_gone()
    {
        var inventory = Inventory();
        inventory.Apply(new VmState("vm-1", "web", "host-42", true, [Mac], []), 1);
        Assert.Null(inventory.Apply(new VmState("vm-1", "web", "host-42", true, [Mac], []), 2));
        var withIp = inventory.Apply(new VmState("vm-1", "web", "host-42", true, [Mac], [Ip]), 3);
        Assert.Equal(WorkloadChange.Discovered, withIp?.Change);
        Assert.Equal([Ip], withIp!.Addresses);
        Assert.Equal(WorkloadChange.Gone, inventory.Remove("vm-1", 4)?.Change);
        Assert.Null(inventory.Remove("vm-1", 5));
    }

    [Fact]
    public void Unknown_host_id_is_placed_by_the_site_map_by_id()
    {
        var inventory = new VCenterInventory(new SiteMapOptions { HostsToSites = new Dictionary<string, string> { ["host-99"] = "lyon" } });
        inventory.Apply(new VmState("vm-1", "web", "host-98", true, [Mac], [Ip]), 1);
        var moved = inventory.Apply(new VmState("vm-1", "web", "host-99", true, [Mac], [Ip]), 2);
        Assert.Equal((WorkloadChange.Migrated, "host-99", "lyon", "host-98", (string?)null), (moved!.Change, moved.Host, moved.Site, moved.PreviousHost, moved.PreviousSite));
    }
}

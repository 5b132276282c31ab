using LispMobility.Xtr.DataPlane;

namespace LispMobility.Xtr.Tests;

/// <summary>The data plane's warm-up at start runs the whole per-packet path on its own engines.</summary>
public sealed class DataPlaneWarmUpTests
{
    [Fact]
    public void Every_packet_is_held_or_sent_encapsulated_and_delivered_but_the_ones_for_an_EID_gone_away()
    {
        // Per RLOC family (2) and EID family (2): an echo and a UDP datagram, each sent on a miss (held, then released),
        // on a hit, and to an EID that moved away (not delivered): 2 x 2 x 2 x 2 delivered.
        Assert.Equal(16, DataPlaneWarmUp.Run(DateTimeOffset.UtcNow));
    }
}

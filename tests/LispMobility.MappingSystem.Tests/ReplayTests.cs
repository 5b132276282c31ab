using LispMobility.Lisp.Messages;
using LispMobility.MappingSystem.Configuration;
using LispMobility.Platform;
using static LispMobility.MappingSystem.Tests.Lab;

namespace LispMobility.MappingSystem.Tests;

/// <summary>Replay protection per site (Window, Monotonic, Off) and when a registrant's replay state is forgotten.</summary>
public sealed class ReplayTests
{
    private readonly DatagramList _sent = new();

    private static MapServerOptions With(ReplayProtection mode, TimeSpan? idle = null) => Options() with
    {
        Sites = [.. Options().Sites.Select(s => s with { ReplayProtection = mode })],
        ReplayStateIdle = idle ?? TimeSpan.FromMinutes(30),
    };

    private static readonly Lisp.Records.MappingRecord Host = Record("10.1.0.5/32", 1440, "127.10.1.1");

    private List<ulong> Notified() => _sent.Items.Select(d => ReadNotify(d).Nonce).ToList();

    [Fact]
    public void The_default_window_accepts_an_xtr_that_draws_random_nonces()
    {
        // The reproduction: 0x9000... then 0x8000... (RFC 6833 xTRs draw nonces at random).
        var (server, _) = Engine();
        server.Receive(Register(0x9000000000000000, Dc1Secret, Host), Dc1Xtr, _sent);
        server.Receive(Register(0x8000000000000000, Dc1Secret, Host), Dc1Xtr, _sent);

        Assert.Equal([0x9000000000000000ul, 0x8000000000000000ul], Notified());
        Assert.Equal(0, server.Counters.Rejected(RejectReason.Replay));
    }

    [Fact]
    public void The_window_refuses_a_nonce_it_saw_lately_and_forgets_it_once_out_of_the_window()
    {
        var options = With(ReplayProtection.Window) with { ReplayWindowSize = 4 };
        var (server, _) = Engine(options);
        ulong[] random = [0x51, 0x17, 0x93, 0x28];
        foreach (var n in random) server.Receive(Register(n, Dc1Secret, Host), Dc1Xtr, _sent);
        server.Receive(Register(0x17, Dc1Secret, Host), Dc1Xtr, _sent); // captured and sent again
        Assert.Equal(1, server.Counters.Rejected(RejectReason.Replay));

        server.Receive(Register(0x60, Dc1Secret, Host), Dc1Xtr, _sent); // pushes 0x51 out of a window of 4
        server.Receive(Register(0x51, Dc1Secret, Host), Dc1Xtr, _sent);
        Assert.Equal(1, server.Counters.Rejected(RejectReason.Replay));
        Assert.Equal([0x51ul, 0x17, 0x93, 0x28, 0x60, 0x51], Notified());
    }

    [Fact]
    public void Under_the_window_an_xtr_seen_drawing_rising_nonces_is_held_to_that_order()
    {
        var (server, _) = Engine();
        for (ulong n = 1000; n <= 1016; n++) server.Receive(Register(n, Dc1Secret, Host), Dc1Xtr, _sent); // 16 rises
        server.Receive(Register(500, Dc1Secret, Host), Dc1Xtr, _sent); // an old capture of this xTR, long out of the window

        Assert.Equal(1, server.Counters.Rejected(RejectReason.Replay));
        server.Receive(Register(1017, Dc1Secret, Host), Dc1Xtr, _sent);
        Assert.Equal(18, server.Counters.RegistersAccepted);
    }

    [Fact]
    public void Under_the_window_a_clock_seeded_xtr_is_held_to_its_order_from_its_first_registration()
    {
        // This project's xTRs count up from the Unix time in ms << 20: an old capture of one (a lower nonce) is a replay at once.
        var (server, time) = Engine();
        var clockNonce = (ulong)time.GetUtcNow().ToUnixTimeMilliseconds() << 20;
        server.Receive(Register(clockNonce, Dc1Secret, Host), Dc1Xtr, _sent);
        server.Receive(Register(1, Dc1Secret, Host), Dc1Xtr, _sent);
        server.Receive(Register(clockNonce - 5, Dc1Secret, Host), Dc1Xtr, _sent);

        Assert.Equal(2, server.Counters.Rejected(RejectReason.Replay));
        server.Receive(Register(clockNonce + 1, Dc1Secret, Host), Dc1Xtr, _sent);
        Assert.Equal([clockNonce, clockNonce + 1], Notified());
    }

    [Fact]
    public void Off_accepts_the_same_nonce_again()
    {
        var (server, _) = Engine(With(ReplayProtection.Off));
        server.Receive(Register(7, Dc1Secret, Host), Dc1Xtr, _sent);
        server.Receive(Register(7, Dc1Secret, Host), Dc1Xtr, _sent);

        Assert.Equal([7ul, 7ul], Notified());
        Assert.Equal(0, server.Counters.Rejected(RejectReason.Replay));
    }

    [Fact]
    public void Replay_state_is_forgotten_when_the_registration_expires_so_a_lower_nonce_registers_again()
    {
        var (server, time) = Engine(With(ReplayProtection.Monotonic));
        server.Receive(Register(0x9000000000000000, Dc1Secret, Host), Dc1Xtr, _sent);
        server.Receive(Register(0x8000000000000000, Dc1Secret, Host), Dc1Xtr, _sent);
        Assert.Equal(1, server.Counters.Rejected(RejectReason.Replay));

        time.Advance(TimeSpan.FromMinutes(3)); // the registration's lifetime
        server.OnTimer(new DatagramList());
        Assert.Equal(0, server.RegistrationCount);

        server.Receive(Register(0x8000000000000000, Dc1Secret, Host), Dc1Xtr, _sent);
        Assert.Equal(1, server.RegistrationCount);
        Assert.Equal([0x9000000000000000ul, 0x8000000000000000ul], Notified());
    }

    [Fact]
    public void Replay_state_is_forgotten_after_the_idle_time_even_while_a_long_ttl_registration_lives()
    {
        var (server, time) = Engine(With(ReplayProtection.Monotonic, idle: TimeSpan.FromMinutes(10)));
        var longLived = RegisterMessage(0x9000, Host) with { UseTtlForTimeout = true }; // lives 1440 minutes
        server.Receive(longLived.ToSignedArray(Key(Dc1Secret)), Dc1Xtr, _sent);
        Assert.Equal(1, server.ReplayStateCount);

        time.Advance(TimeSpan.FromMinutes(9));
        server.Receive((longLived with { Nonce = 0x8000 }).ToSignedArray(Key(Dc1Secret)), Dc1Xtr, _sent);
        Assert.Equal(1, server.Counters.Rejected(RejectReason.Replay));

        time.Advance(TimeSpan.FromMinutes(10));
        server.OnTimer(new DatagramList());
        Assert.Equal(0, server.ReplayStateCount);
        server.Receive((longLived with { Nonce = 0x8000 }).ToSignedArray(Key(Dc1Secret)), Dc1Xtr, _sent);
        Assert.Equal([0x9000ul, 0x8000ul], Notified());
    }

    [Fact]
    public void The_replay_mode_and_window_are_validated()
    {
        var errors = (Options() with
        {
            ReplayWindowSize = 0,
            ReplayStateIdle = TimeSpan.Zero,
            Sites = [Options().Sites[0] with { ReplayProtection = (ReplayProtection)9 }],
        }).Validate();

        Assert.Contains(errors, e => e.Contains("ReplayWindowSize", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("ReplayStateIdle", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("Sites[0].ReplayProtection", StringComparison.Ordinal));
    }
}

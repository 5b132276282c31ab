using LispMobility.MappingSystem.Configuration;

namespace LispMobility.MappingSystem.Registrations;

/// <summary>
/// Map-Register replay protection, per registrant (xTR-ID, else source address), site and key-id. RFC 9301 §5.6 makes the
/// nonce the only freshness a Map-Register carries and leaves its use to the Map-Server; RFC 6833 §6.1 asked xTRs for
/// "randomly generated" nonces, so a rule that wants them increasing locks such xTRs out. The mode is per site
/// (<see cref="ReplayProtection"/>); the state of a registrant is forgotten when what it registered expired, or when it
/// has been idle for <see cref="MapServerOptions.ReplayStateIdle"/>, so a restarted or re-seeded xTR is never locked out.
/// Not thread-safe: the Map-Server calls it under its lock.
/// </summary>
internal sealed class ReplayGuard(int windowSize, TimeSpan idle)
{
    // Consecutive rising nonces after which a Window registrant is taken to draw them in order (as this project's xTRs do),
    // and a lower one is refused too: 16 rises in a row happen by chance to a random source once in 16! (about 2e13).
    private const int LearnedMonotonic = 16;
    private readonly Dictionary<(RegistrantId, Site, byte), State> _states = [];
    private DateTimeOffset _nextSweep;

    /// <summary>Registrants with replay state.</summary>
    public int Count => _states.Count;

    /// <summary>
    /// Whether <paramref name="nonce"/> is fresh for this registrant under <paramref name="mode"/>; when it is, it is
    /// remembered until <paramref name="registeredUntil"/> (what the Map-Register registered expires then) or the idle time.
    /// <paramref name="reason"/> says why a nonce is refused.
    /// </summary>
    public bool Admit(RegistrantId id, Site site, byte keyId, ulong nonce, ReplayProtection mode, DateTimeOffset now, DateTimeOffset registeredUntil, out string reason)
    {
        reason = "";
        if (mode == ReplayProtection.Off) return true;
        var key = (id, site, keyId);
        if (_states.TryGetValue(key, out var state) && state.ForgetAt(idle) <= now)
        {
            _states.Remove(key);
            state = null;
        }

        if (state is not null)
        {
            if ((mode == ReplayProtection.Monotonic || state.Rises >= LearnedMonotonic || IsClockNonce(state.Last, now)) && nonce <= state.Last)
            {
                reason = mode == ReplayProtection.Monotonic ? $"nonce {nonce:x16} not above {state.Last:x16}"
                    : state.Rises >= LearnedMonotonic ? $"nonce {nonce:x16} below {state.Last:x16} from an xTR whose last {state.Rises} nonces rose"
                    : $"nonce {nonce:x16} below {state.Last:x16}, a clock-seeded nonce of an xTR that counts up";
                return false;
            }

            if (mode == ReplayProtection.Window && state.Seen(nonce))
            {
                reason = $"nonce {nonce:x16} seen among the last {windowSize} from this xTR";
                return false;
            }
        }
        else
        {
            state = new State(mode == ReplayProtection.Window ? windowSize : 0);
            _states[key] = state;
        }

        state.Accept(nonce, now, registeredUntil);
        return true;
    }

    // This project's xTRs (NonceSource.Increasing) count up from the Unix time in milliseconds shifted left by 20 bits, so
    // their nonces carry a date since the xTR started. A random nonce looks like that about once in 80 (a date between
    // 2020 and tomorrow); then a lower nonce after it is refused once, and the next random one is accepted. A replay of
    // such an xTR's old Map-Register (a lower nonce) is refused from its first registration on, not after 16.
    private static readonly long ClockEpoch = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    private static bool IsClockNonce(ulong nonce, DateTimeOffset now)
    {
        var ms = (long)(nonce >> 20);
        return ms >= ClockEpoch && ms <= now.ToUnixTimeMilliseconds() + (long)TimeSpan.FromDays(1).TotalMilliseconds;
    }

    /// <summary>Forgets the registrants whose registrations expired or that fell idle; cheap when called often.</summary>
    public void Sweep(DateTimeOffset now)
    {
        if (now < _nextSweep) return;
        _nextSweep = now + TimeSpan.FromSeconds(30);
        List<(RegistrantId, Site, byte)>? gone = null;
        foreach (var (key, state) in _states)
        {
            if (state.ForgetAt(idle) <= now) (gone ??= []).Add(key);
        }

        foreach (var key in gone ?? []) _states.Remove(key);
    }

    private sealed class State(int windowSize)
    {
        private readonly ulong[] _window = new ulong[windowSize];
        private int _filled, _next;
        private bool _any;

        public ulong Last { get; private set; }
        public int Rises { get; private set; }
        private DateTimeOffset _lastSeen;
        private DateTimeOffset _registeredUntil;

        public DateTimeOffset ForgetAt(TimeSpan idle) => _lastSeen + idle < _registeredUntil ? _lastSeen + idle : _registeredUntil;

        public bool Seen(ulong nonce)
        {
            for (var i = 0; i < _filled; i++)
            {
                if (_window[i] == nonce) return true;
            }

            return false;
        }

        public void Accept(ulong nonce, DateTimeOffset now, DateTimeOffset registeredUntil)
        {
            Rises = _any && nonce > Last ? Rises + 1 : 0;
            _any = true;
            Last = nonce;
            _lastSeen = now;
            if (registeredUntil > _registeredUntil) _registeredUntil = registeredUntil;
            if (_window.Length == 0) return;
            _window[_next] = nonce;
            _next = (_next + 1) % _window.Length;
            if (_filled < _window.Length) _filled++;
        }
    }
}

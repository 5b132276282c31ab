using LispMobility.Lisp.Addressing;
using LispMobility.MappingSystem.Configuration;

namespace LispMobility.MappingSystem.Registrations;

/// <summary>
/// Blank registration objects made at start for the registrations a Map-Server expects (MapServer:ExpectedRegistrations),
/// handed out once each and never taken back. A registration made during a mass registration (a failover, a restart)
/// outlives the collections that follow it: made then, each was copied from the youngest generation to the older ones on
/// fresh pages, and that cost a new registration its extra time over a refresh (issue #18). Made at start, they are old
/// before the first Map-Register, and the Map-Registers leave only garbage. Beyond the stock, objects are made as they come.
/// </summary>
internal sealed class RegistrationStock
{
    // Made in pairs, an EID-prefix's object next to its first ETR's, as a new registration takes them; a slot is cleared
    // when taken, so the stock holds on to nothing it handed out (a removed registration is never reused: queue items and
    // the previous ETRs of a move still see it).
    private readonly RegisteredEid?[] _eids;
    private readonly EtrRegistration?[] _etrs;
    private int _nextEid;
    private int _nextEtr;

    public RegistrationStock(int count)
    {
        _eids = new RegisteredEid?[count];
        _etrs = new EtrRegistration?[count];
        for (var i = 0; i < count; i++)
        {
            _eids[i] = new RegisteredEid();
            _etrs[i] = new EtrRegistration();
        }
    }

    public RegisteredEid TakeEid(EidPrefix prefix, Site site)
    {
        if (_nextEid == _eids.Length) return new RegisteredEid(prefix, site);
        var eid = _eids[_nextEid]!;
        _eids[_nextEid++] = null;
        return eid.Name(prefix, site);
    }

    public EtrRegistration TakeEtr()
    {
        if (_nextEtr == _etrs.Length) return new EtrRegistration();
        var etr = _etrs[_nextEtr]!;
        _etrs[_nextEtr++] = null;
        return etr;
    }
}

using System.Globalization;
using System.Runtime.ExceptionServices;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Mobility.Persistence;

/// <summary>A move as the journal keeps it.</summary>
/// <remarks>
/// With <see cref="HeldAway"/>, the move made <see cref="FromSite"/> hold the EID away (it left while the agent was down):
/// <see cref="ToSite"/> then names the RLOCs the mapping system mapped it to, not a site.
/// </remarks>
public sealed record MoveRecord(
    Guid Id, string Eid, string Vm, string? FromSite, string ToSite, string Trigger, string Source, MoveState State, MoveStep Step,
    DateTimeOffset Created, DateTimeOffset Updated, string? Error, bool HeldAway = false);

/// <summary>
/// Where the last converged move of an EID left it: at <see cref="Site"/>, or, <see cref="HeldAway"/>, held away by a local
/// site, <see cref="Site"/> then naming the RLOCs it went to.
/// </summary>
public readonly record struct EidOwner(string Site, bool HeldAway);

/// <summary>Where a move is.</summary>
public enum MoveState
{
    /// <summary>Journaled, not finished.</summary>
    Running,
    /// <summary>Every step done.</summary>
    Converged,
    /// <summary>A step failed after its retries; the error says why.</summary>
    Failed,
    /// <summary>
    /// Overtaken by a newer move of the same EID before it ran: left unfinished by a crash and not resumed, or decided on views
    /// (a reconciler pass, a retry) that a move started since has changed. Closed, not run.
    /// </summary>
    Superseded,
}

/// <summary>The steps of a move saga, in order.</summary>
public enum MoveStep
{
    /// <summary>Intent journaled.</summary>
    Journaled,
    /// <summary>The /32 registered at the new site and acknowledged.</summary>
    Registered,
    /// <summary>The old site no longer attracts the EID (away, or withdrawn when moving home).</summary>
    OldSiteAway,
    /// <summary>Gateways converged.</summary>
    GatewaysConverged,
    /// <summary>Remote ITRs solicited.</summary>
    RemoteItrsSolicited,
    /// <summary>Finished.</summary>
    Done,
}

/// <summary>One audit row: a decision or a step.</summary>
public sealed record AuditEntry(
    long Id, DateTimeOffset Time, Guid? MoveId, string? Eid, string? Vm, string? FromSite, string? ToSite, string Kind, string? Trigger,
    string? Source, string Outcome, string? Detail, double? DurationMs);

/// <summary>An audit query; every criterion optional.</summary>
/// <remarks>Oldest first, the first <see cref="Limit"/> rows; with <see cref="NewestFirst"/>, the latest <see cref="Limit"/> rows, newest first.</remarks>
public sealed record AuditQuery(string? Eid = null, string? Vm = null, string? Site = null, DateTimeOffset? Since = null, int Limit = 1000, bool NewestFirst = false);

/// <summary>
/// The SQLite file behind the move journal (written before the network is touched, replayed at start)
/// and the audit history. One connection, serialized, WAL mode. A write the disk refuses (full, read-only, I/O error)
/// is kept in a bounded backlog, logged and reported by <see cref="Health"/>, and written when the disk takes it again.
/// </summary>
public sealed partial class MobilityStore : IDisposable
{
    private readonly SqliteConnection _db;
    private readonly StoreBacklog _backlog;
    private readonly object _gate = new();
    private readonly object _pendingGate = new();
    private readonly Dictionary<string, SqliteCommand> _prepared = new(StringComparer.Ordinal);
    private List<PendingWrite> _pending = [];
    private int _flushQueued;
    private bool _disposed;

    /// <summary>Opens (and creates) the database; a file that cannot be used throws <see cref="MobilityStoreException"/>.</summary>
    public MobilityStore(string path, ILogger<MobilityStore>? logger = null, TimeProvider? time = null, int backlogCapacity = 10_000)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = path;
        _backlog = new StoreBacklog(path, backlogCapacity, logger ?? (ILogger)NullLogger.Instance, time ?? TimeProvider.System, RetryBacklog);
        _db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        try
        {
            _db.Open();
            CreateSchema();
        }
        catch (SqliteException e)
        {
            _db.Dispose();
            throw new MobilityStoreException(path, e);
        }
    }

    // The journal's schema version (SQLite's user_version); Migrate brings a file of any older version up to it.
    private const int SchemaVersion = 1;

    private void CreateSchema()
    {
        // Outside the group commit: journal_mode cannot change inside a transaction. The tables as version 0 made them.
        using var schema = Command("""
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=NORMAL;
            CREATE TABLE IF NOT EXISTS moves(id TEXT PRIMARY KEY, eid TEXT NOT NULL, vm TEXT NOT NULL, from_site TEXT, to_site TEXT NOT NULL,
              trigger TEXT NOT NULL, source TEXT NOT NULL, state INTEGER NOT NULL, step INTEGER NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL, error TEXT);
            CREATE INDEX IF NOT EXISTS moves_state ON moves(state);
            CREATE TABLE IF NOT EXISTS audit(id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, move_id TEXT, eid TEXT, vm TEXT,
              from_site TEXT, to_site TEXT, kind TEXT NOT NULL, trigger TEXT, source TEXT, outcome TEXT NOT NULL, detail TEXT, duration_ms REAL);
            CREATE INDEX IF NOT EXISTS audit_eid ON audit(eid);
            CREATE INDEX IF NOT EXISTS audit_time ON audit(time);
            """);
        schema.ExecuteNonQuery();
        Migrate();
    }

    // A file an older agent wrote is brought up to date in place, in one transaction, its rows keeping their meaning: the
    // journal of an upgraded agent still says where each EID is.
    private void Migrate()
    {
        using var read = Command("PRAGMA user_version");
        var version = Convert.ToInt32(read.ExecuteScalar(), CultureInfo.InvariantCulture);
        if (version >= SchemaVersion) return;
        using var transaction = _db.BeginTransaction();
        if (version < 1)
        {
            // 1: a hold-away is flagged. Version 0 told it only by the text of to_site, "rloc " and the RLOCs.
            Run("""
                ALTER TABLE moves ADD COLUMN held_away INTEGER NOT NULL DEFAULT 0;
                UPDATE moves SET held_away=1 WHERE to_site LIKE 'rloc %';
                """);
        }

        Run($"PRAGMA user_version={SchemaVersion}");
        transaction.Commit();

        void Run(string sql)
        {
            using var step = Command(sql);
            step.Transaction = transaction;
            step.ExecuteNonQuery();
        }
    }

    /// <summary>The database file.</summary>
    public string Path { get; }

    /// <summary>The last write that failed (a step or audit row nobody waited for), or null.</summary>
    public Exception? LastWriteError { get; private set; }

    /// <summary>Whether every write reached the disk, and if not why and how many wait in memory.</summary>
    public StoreHealth Health => _backlog.Health;

    /// <summary>Writes what the disk refused before (also tried by a timer and by every write); true when nothing is left.</summary>
    public bool RetryBacklog()
    {
        lock (_gate)
        {
            if (!_disposed) CommitPending();
            return _backlog.Count == 0;
        }
    }

    /// <summary>Journals a new move (before anything in the network changes).</summary>
    public void Begin(MoveRecord move)
    {
        ArgumentNullException.ThrowIfNull(move);
        Begin([move]);
    }

    /// <summary>Journals many new moves (a DR failover) in one commit, before anything in the network changes.</summary>
    public void Begin(IReadOnlyList<MoveRecord> moves)
    {
        ArgumentNullException.ThrowIfNull(moves);
        Execute(wait: true, moves.Select(move => new PendingWrite(
            "INSERT INTO moves(id,eid,vm,from_site,to_site,trigger,source,state,step,created,updated,error,held_away) VALUES($id,$eid,$vm,$from,$to,$trigger,$source,$state,$step,$created,$updated,$error,$held)",
        [
            ("$id", move.Id.ToString()), ("$eid", move.Eid), ("$vm", move.Vm), ("$from", move.FromSite), ("$to", move.ToSite), ("$trigger", move.Trigger),
            ("$source", move.Source), ("$state", (int)move.State), ("$step", (int)move.Step), ("$created", Time(move.Created)), ("$updated", Time(move.Updated)), ("$error", move.Error),
            ("$held", move.HeldAway ? 1 : 0),
        ])).ToList());
    }

    /// <summary>Records a step or the end of a move.</summary>
    /// <remarks>
    /// The end of a move is committed before this returns; a step of a running move may be committed with the next write:
    /// if a crash loses it, the move resumes from the step before, and every step is idempotent.
    /// </remarks>
    public void Update(Guid id, MoveState state, MoveStep step, DateTimeOffset time, string? error = null) =>
        Update([(id, state, step, error)], time);

    /// <summary>Records steps or ends of many moves, committed together; returns once committed if any of them ended.</summary>
    public void Update(IReadOnlyList<(Guid Id, MoveState State, MoveStep Step, string? Error)> updates, DateTimeOffset time)
    {
        ArgumentNullException.ThrowIfNull(updates);
        Execute(wait: updates.Any(u => u.State != MoveState.Running), updates.Select(u => new PendingWrite("UPDATE moves SET state=$state, step=$step, updated=$updated, error=$error WHERE id=$id",
            [("$id", u.Id.ToString()), ("$state", (int)u.State), ("$step", (int)u.Step), ("$updated", Time(time)), ("$error", u.Error)])).ToList());
    }

    /// <summary>Moves not finished (replayed at start).</summary>
    public IReadOnlyList<MoveRecord> Unfinished() => Moves("WHERE state=0 ORDER BY created");

    /// <summary>The last converged move of each EID: who holds it now.</summary>
    public IReadOnlyDictionary<string, EidOwner> Owners()
    {
        var owners = new Dictionary<string, EidOwner>(StringComparer.Ordinal);
        foreach (var m in Moves("WHERE state=1 ORDER BY updated")) owners[m.Eid] = new EidOwner(m.ToSite, m.HeldAway);
        return owners;
    }

    /// <summary>A move by id.</summary>
    public MoveRecord? Move(Guid id) => Moves("WHERE id=$id", ("$id", id.ToString())).FirstOrDefault();

    /// <summary>Appends an audit row (committed with the next write, a read, or within moments).</summary>
    public void Audit(AuditEntry e)
    {
        ArgumentNullException.ThrowIfNull(e);
        Execute(wait: false, [new PendingWrite("INSERT INTO audit(time,move_id,eid,vm,from_site,to_site,kind,trigger,source,outcome,detail,duration_ms) VALUES($t,$m,$e,$v,$f,$to,$k,$tr,$s,$o,$d,$ms)",
        [
            ("$t", Time(e.Time)), ("$m", e.MoveId?.ToString()), ("$e", e.Eid), ("$v", e.Vm), ("$f", e.FromSite), ("$to", e.ToSite), ("$k", e.Kind),
            ("$tr", e.Trigger), ("$s", e.Source), ("$o", e.Outcome), ("$d", e.Detail), ("$ms", e.DurationMs),
        ])]);
    }

    /// <summary>Audit rows matching <paramref name="query"/>, oldest first unless it asks for the newest.</summary>
    public IReadOnlyList<AuditEntry> QueryAudit(AuditQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        var where = new List<string>();
        var args = new List<(string, object?)>();
        if (query.Eid is not null) { where.Add("eid=$eid"); args.Add(("$eid", query.Eid)); }
        if (query.Vm is not null) { where.Add("vm=$vm"); args.Add(("$vm", query.Vm)); }
        if (query.Site is not null) { where.Add("(from_site=$site OR to_site=$site)"); args.Add(("$site", query.Site)); }
        if (query.Since is { } since) { where.Add("time>=$since"); args.Add(("$since", Time(since))); }
        args.Add(("$limit", query.Limit));
        var sql = "SELECT id,time,move_id,eid,vm,from_site,to_site,kind,trigger,source,outcome,detail,duration_ms FROM audit" +
                  (where.Count > 0 ? " WHERE " + string.Join(" AND ", where) : "") + (query.NewestFirst ? " ORDER BY id DESC" : " ORDER BY id") + " LIMIT $limit";
        lock (_gate)
        {
            CommitPending();
            using var cmd = Command(sql, args.ToArray());
            using var r = cmd.ExecuteReader();
            var rows = new List<AuditEntry>();
            while (r.Read())
            {
                rows.Add(new AuditEntry(r.GetInt64(0), Parse(r.GetString(1)), r.IsDBNull(2) ? null : Guid.Parse(r.GetString(2)), Str(r, 3), Str(r, 4), Str(r, 5), Str(r, 6),
                    r.GetString(7), Str(r, 8), Str(r, 9), r.GetString(10), Str(r, 11), r.IsDBNull(12) ? null : r.GetDouble(12)));
            }

            return rows;
        }
    }

    /// <summary>Deletes audit rows and finished moves older than <paramref name="before"/>; returns the rows deleted.</summary>
    public int Prune(DateTimeOffset before)
    {
        lock (_gate)
        {
            CommitPending();
            using var a = Command("DELETE FROM audit WHERE time<$b", ("$b", Time(before)));
            using var m = Command("DELETE FROM moves WHERE state<>0 AND updated<$b", ("$b", Time(before)));
            return a.ExecuteNonQuery() + m.ExecuteNonQuery();
        }
    }

    private List<MoveRecord> Moves(string where, params (string, object?)[] args)
    {
        lock (_gate)
        {
            CommitPending();
            using var cmd = Command("SELECT id,eid,vm,from_site,to_site,trigger,source,state,step,created,updated,error,held_away FROM moves " + where, args);
            using var r = cmd.ExecuteReader();
            var list = new List<MoveRecord>();
            while (r.Read())
            {
                list.Add(new MoveRecord(Guid.Parse(r.GetString(0)), r.GetString(1), r.GetString(2), Str(r, 3), r.GetString(4), r.GetString(5), r.GetString(6),
                    (MoveState)r.GetInt32(7), (MoveStep)r.GetInt32(8), Parse(r.GetString(9)), Parse(r.GetString(10)), Str(r, 11), r.GetInt32(12) != 0));
            }

            return list;
        }
    }

    // Group commit: a write is queued, and whoever holds the connection next commits every queued write in one transaction
    // (a commit costs ten times a write). A waiting caller returns only once its own write is committed — the intent is
    // journaled before the network is touched; other writes ride along with the next commit, or a flush queued for them.
    private void Execute(bool wait, List<PendingWrite> writes)
    {
        if (writes.Count == 0) return;
        lock (_pendingGate) _pending.AddRange(writes);
        if (!wait)
        {
            if (Interlocked.Exchange(ref _flushQueued, 1) == 0) ThreadPool.UnsafeQueueUserWorkItem(static store => store.Flush(), this, preferLocal: false);
            return;
        }

        lock (_gate)
        {
            if (!writes[^1].Done) CommitPending();
        }

        if (writes.FirstOrDefault(w => w.Error is not null)?.Error is { } error) ExceptionDispatchInfo.Throw(error);
    }

    private void Flush()
    {
        Volatile.Write(ref _flushQueued, 0);
        lock (_gate)
        {
            if (!_disposed) CommitPending();
        }
    }

    // Under _gate. Writes the disk refused earlier go first, so that the file keeps the order they happened in.
    private void CommitPending()
    {
        List<PendingWrite> batch;
        lock (_pendingGate)
        {
            batch = _pending;
            _pending = [];
        }

        batch = _backlog.TakeAll(batch);
        if (batch.Count == 0) return;

        var deferred = new List<PendingWrite>();
        SqliteException? fault = null;
        try
        {
            using var transaction = _db.BeginTransaction();
            foreach (var w in batch) Run(w, transaction);
            transaction.Commit();
        }
        catch (SqliteException e) when (StoreBacklog.IsStorageFault(e))
        {
            fault = e;
            deferred = batch;
        }
        catch (SqliteException)
        {
            // One bad write must not fail the others queued with it: replay them one by one, each its own transaction.
            foreach (var w in batch)
            {
                try { Run(w, null); }
                catch (SqliteException e) when (StoreBacklog.IsStorageFault(e)) { fault = e; deferred.Add(w); }
                catch (SqliteException e) { w.Error = e; }
            }
        }

        foreach (var w in batch) w.Done = true;
        if (fault is not null) _backlog.Defer(deferred, fault);
        else _backlog.Written();
        if (batch.FirstOrDefault(w => w.Error is not null) is { } failed) LastWriteError = failed.Error;
    }

    // Under _gate. Statements are prepared once per SQL text and kept, not re-prepared for every write.
    private void Run(PendingWrite write, SqliteTransaction? transaction)
    {
        // Each SQL text always comes with the same parameters in the same order: they are created once and only their values set.
        if (!_prepared.TryGetValue(write.Sql, out var cmd))
        {
            cmd = _db.CreateCommand();
            cmd.CommandText = write.Sql;
            foreach (var (name, _) in write.Args) cmd.Parameters.Add(new SqliteParameter { ParameterName = name });
            _prepared[write.Sql] = cmd;
        }

        cmd.Transaction = transaction;
        for (var i = 0; i < write.Args.Length; i++) cmd.Parameters[i].Value = write.Args[i].Value ?? DBNull.Value;
        cmd.ExecuteNonQuery();
    }

    /// <summary>One statement waiting for its commit.</summary>
    internal sealed class PendingWrite(string sql, (string Name, object? Value)[] args)
    {
        public string Sql { get; } = sql;

        public (string Name, object? Value)[] Args { get; } = args;

        public bool Done { get; set; }

        public Exception? Error { get; set; }
    }

    private SqliteCommand Command(string sql, params (string Name, object? Value)[] args)
    {
        var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return cmd;
    }

    private static string? Str(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private static DateTimeOffset Parse(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            CommitPending();
            _disposed = true;
            _backlog.Dispose();
            foreach (var cmd in _prepared.Values) cmd.Dispose();
            _prepared.Clear();
            _db.Dispose();
        }
    }
}

/// <summary>The move journal's database cannot be used: what is wrong with the file and what to do, in one line.</summary>
public sealed class MobilityStoreException(string path, SqliteException inner) : InvalidOperationException(Describe(path, inner), inner)
{
    // SQLite's primary result codes (the low byte of the extended code).
    private const int Perm = 3, ReadOnly = 8, IoError = 10, Corrupt = 11, Full = 13, CantOpen = 14, NotADatabase = 26;

    private static string Describe(string path, SqliteException e) => (e.SqliteErrorCode & 0xFF) switch
    {
        Corrupt or NotADatabase =>
            $"the move journal {path} is not a SQLite database or is corrupt ({Reason(e)}): move it aside and start again " +
            "(the agent then starts with an empty journal and history; `sqlite3 FILE .recover` may save the rows)",
        ReadOnly or Perm or CantOpen =>
            $"the move journal {path} cannot be opened for writing ({Reason(e)}): give the service user write access to the file " +
            "and its folder, or point Mobility.Database at a writable place",
        Full => $"the move journal {path} cannot be written: the disk is full ({Reason(e)}); free space and start again",
        IoError => $"the move journal {path} cannot be read or written: I/O error ({Reason(e)}); check the disk",
        _ => $"the move journal {path} cannot be used ({Reason(e)})",
    };

    // "SQLite Error 26: 'file is not a database'." -> "SQLite error 26: file is not a database"
    private static string Reason(SqliteException e)
    {
        var text = e.Message;
        var colon = text.IndexOf(": ", StringComparison.Ordinal);
        if (colon >= 0) text = text[(colon + 2)..];
        return $"SQLite error {e.SqliteErrorCode}: {text.TrimEnd('.').Trim('\'')}";
    }
}

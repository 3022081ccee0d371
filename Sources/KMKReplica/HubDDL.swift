/// The hub store's tables (SPEC.md §11.7).
enum HubDDL {
    /// The `format` value in `hub_meta` that marks a file as a hub store.
    static let format = "kmk-sync-hub"

    static let create = """
        CREATE TABLE hub_meta (key TEXT PRIMARY KEY NOT NULL, value ANY) STRICT;
        CREATE TABLE hub_site (site INTEGER PRIMARY KEY, replica TEXT NOT NULL UNIQUE) STRICT;
        -- One row per register (field or row lifecycle) of every record, with the winning write.
        -- muni is the record's municipality, NULL for national reference data; batch is the
        -- hub_batch that wrote the current value (NULL: written before the hub kept batches).
        CREATE TABLE hub_register (
            tbl INTEGER NOT NULL, pk TEXT NOT NULL, col INTEGER NOT NULL, muni TEXT,
            val ANY, hlc INTEGER NOT NULL, site INTEGER NOT NULL, base INTEGER NOT NULL, seq INTEGER NOT NULL,
            batch INTEGER,
            PRIMARY KEY (tbl, pk, col)
        ) STRICT, WITHOUT ROWID;
        CREATE UNIQUE INDEX hub_register_seq ON hub_register (seq);
        CREATE INDEX hub_register_muni ON hub_register (muni, seq);
        -- Each commit that issued sequence numbers, with its random tag (cursor validation).
        CREATE TABLE hub_commit (first_seq INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL, tag TEXT NOT NULL,
            at INTEGER NOT NULL) STRICT;
        -- Replicas that pushed: their municipality, the last batch number applied and its digest.
        CREATE TABLE hub_replica (replica TEXT PRIMARY KEY NOT NULL, municipality TEXT NOT NULL,
            last_batch INTEGER NOT NULL, last_push_at INTEGER NOT NULL, changes INTEGER NOT NULL DEFAULT 0,
            last_digest TEXT) STRICT;
        -- Tokens: only the SHA-256 of each token is kept.
        CREATE TABLE hub_token (id TEXT PRIMARY KEY NOT NULL, hash TEXT NOT NULL UNIQUE, scope TEXT NOT NULL,
            label TEXT, created_at INTEGER NOT NULL, revoked_at INTEGER) STRICT;
        """ + batchTable

    /// Each batch the hub applied (`kmk-sync hub audit`): the token that sent it (what the hub
    /// vouches for), the replica and municipality it was for, when, and its changes.
    static let batchTable = """
        CREATE TABLE hub_batch (id INTEGER PRIMARY KEY, token TEXT, replica TEXT NOT NULL, municipality TEXT NOT NULL,
            batch INTEGER NOT NULL, at INTEGER NOT NULL, changes INTEGER NOT NULL, applied INTEGER NOT NULL) STRICT;
        CREATE INDEX hub_batch_municipality ON hub_batch (municipality, id);
        """

    /// Brings a store made by an earlier kmk-sync of the same schema up to date (idempotent).
    static let upgrade = [
        ("hub_replica", "last_digest", "ALTER TABLE hub_replica ADD COLUMN last_digest TEXT"),
        ("hub_register", "batch", "ALTER TABLE hub_register ADD COLUMN batch INTEGER"),
        ("hub_batch", "id", batchTable),
    ]
}

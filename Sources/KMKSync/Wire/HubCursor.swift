/// A pull cursor as the hub writes it: `c1.<hub id>.<seq>.<tag>`. Clients store and send it back
/// unread; only the hub interprets it.
///
/// `seq` is the hub sequence number of the last change the client has; `tag` is the random tag of
/// the hub commit that issued that number. A hub restored from an older backup either lacks that
/// number or issued it again under a different tag, so a cursor from before the restore is
/// recognised as stale instead of silently skipping changes.
public struct HubCursor: Hashable, Sendable {
    public var hub: String
    public var seq: Int64
    public var tag: String

    public init(hub: String, seq: Int64, tag: String) {
        self.hub = hub
        self.seq = seq
        self.tag = tag
    }

    public var text: String { "c1.\(hub).\(seq).\(tag)" }

    /// Parses a cursor; nil when it is not one.
    public init?(text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "c1", let seq = Int64(parts[2]), seq >= 0, !parts[1].isEmpty else { return nil }
        self.init(hub: String(parts[1]), seq: seq, tag: String(parts[3]))
    }
}

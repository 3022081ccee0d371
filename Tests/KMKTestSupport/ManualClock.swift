import KMKModel
import KMKReplica

/// A wall clock the test moves by hand.
public final class ManualClock: @unchecked Sendable {
    // Only touched from the test's own thread; @unchecked because the closure type must be Sendable.
    public var millis: UInt64

    public init(_ iso: String = "2026-03-01T09:00:00Z") { millis = HLC.parseTime(iso)! }

    public var clock: Replica.WallClock { { self.millis } }

    public func advance(seconds: Double) { millis = UInt64(Int64(millis) + Int64(seconds * 1000)) }
}

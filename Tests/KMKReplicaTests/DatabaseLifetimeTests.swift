import Foundation
@testable import KMKReplica
import KMKModel
import KMKTestSupport
import Testing

/// A connection ends when its owner lets go of it (SPEC.md §2, "The file alone is the replica"):
/// the statement cache holds statements, and a statement that held its `Database` back kept every
/// connection open for ever, so the WAL was never checkpointed when a command ended.
@Suite("Database lifetime")
struct DatabaseLifetimeTests {
    @Test("a released replica has finalised its statements and closed: its WAL is copied into the file and removed")
    func releasedReplicaCloses() throws {
        let dir = try TempDir()
        let path = dir.path("a.kmk")
        weak var released: Database?
        try {
            let replica = try Replica.create(at: path, municipality: .byCode["0484"]!)
            _ = try replica.insert("venue", fields: ["name": .text("Krogen"), "membership": .text("member")])
            _ = try replica.changes(after: 0, limit: 100)
            #expect(FileManager.default.fileExists(atPath: path + "-wal"), "a write leaves its WAL while the file is open")
            released = replica.db
        }()
        #expect(released == nil, "the database outlived its replica: a statement or a closure still holds it")
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"), "the last connection's close removes the WAL")
        // The file alone holds the write.
        let copy = dir.path("copy.kmk")
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        let opened = try Replica.open(at: copy)
        #expect(try opened.records("venue").count == 1)
        opened.close()
    }
}

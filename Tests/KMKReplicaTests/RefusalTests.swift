import Foundation
import KMKModel
import KMKReplica
import KMKTestSupport
import Testing

@Suite("Refusing bad files")
struct RefusalTests {
    func expectRefused(_ path: String, kind: ReplicaError.Kind, containing text: String) {
        let before = fileBytes(path)
        do {
            _ = try Replica.open(at: path)
            Issue.record("opening \(path) should fail")
        } catch let e as ReplicaError {
            #expect(e.kind == kind)
            #expect(e.message.contains(text), "message: \(e.message)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
        #expect(fileBytes(path) == before, "the refused file must not change")
    }

    @Test("a missing file")
    func missing() throws {
        let dir = try TempDir()
        do {
            _ = try Replica.open(at: dir.path("none.kmk"))
            Issue.record("should fail")
        } catch let e as ReplicaError {
            #expect(e.kind == .notFound)
            #expect(e.message.contains("kmk-sync init"))
        }
    }

    @Test("a text file is not a replica")
    func textFile() throws {
        let dir = try TempDir()
        let path = dir.path("notes.kmk")
        try "namn;adress\nKrogen;Storgatan 1\n".write(toFile: path, atomically: true, encoding: .utf8)
        expectRefused(path, kind: .badFile, containing: "not a kmk-sync replica")
    }

    @Test("another SQLite database is not a replica")
    func otherDatabase() throws {
        let dir = try TempDir()
        let path = dir.path("other.db")
        #expect(try sqlite3Shell(path, "CREATE TABLE t (x); INSERT INTO t VALUES (1);").status == 0)
        expectRefused(path, kind: .badFile, containing: "not a kmk-sync replica")
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"), "not even opened for writing")
    }

    @Test("a replica made by a newer kmk-sync")
    func newerSchema() throws {
        let dir = try TempDir()
        let path = dir.path("new.kmk")
        try Replica.create(at: path, municipality: eskilstuna).close()
        #expect(try sqlite3Shell(path, "UPDATE kmk_meta SET value = 99 WHERE key = 'schema_version';").status == 0)
        expectRefused(path, kind: .badFile, containing: "newer kmk-sync (schema 99")
    }

    @Test("a corrupt replica")
    func corrupt() throws {
        let dir = try TempDir()
        let path = dir.path("bad.kmk")
        let r = try Replica.create(at: path, municipality: eskilstuna)
        for i in 0..<300 {
            try r.insert("venue", fields: ["name": .text("Krogen \(i) " + String(repeating: "x", count: 100)),
                                           "membership": .text("member")])
        }
        r.close()
        // Overwrite the middle of the file (inside b-tree pages) with garbage.
        var data = fileBytes(path)
        #expect(data.count > 40_000)
        let start = data.count / 2
        for i in 0..<4096 { data[start + i] = UInt8(truncatingIfNeeded: i &* 31 &+ 7) }
        try data.write(to: URL(fileURLWithPath: path))
        expectRefused(path, kind: .badFile, containing: "corrupt")
    }

    @Test("a replica locked by another program gives a busy error, not a hang")
    func locked() throws {
        let dir = try TempDir()
        let path = dir.path("locked.kmk")
        let r = try Replica.create(at: path, municipality: eskilstuna)
        try sqlite3LockAndHold(path) {
            // The other program holds the write lock: a write must fail quickly with .busy.
            let other = try Replica.open(at: path, busyTimeoutMillis: 200)
            do {
                try other.insert("venue", fields: ["name": .text("X"), "membership": .text("member")])
                Issue.record("the write should be refused while the file is locked")
            } catch let e as ReplicaError {
                #expect(e.kind == .busy)
                #expect(e.message.contains("locked by another program"))
            }
        }
        #expect(try r.records("venue").isEmpty)
    }

    @Test("init refuses to overwrite an existing file")
    func initNoOverwrite() throws {
        let dir = try TempDir()
        let path = dir.path("x.kmk")
        try "keep me".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ReplicaError.self) { try Replica.create(at: path, municipality: eskilstuna) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "keep me")
    }
}

/// Holds a write lock on the file from a `sqlite3` process while `body` runs.
func sqlite3LockAndHold(_ path: String, _ body: () throws -> Void) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
    p.arguments = [path]
    let input = Pipe()
    let output = Pipe()
    p.standardInput = input
    p.standardOutput = output
    p.standardError = Pipe()
    try ChildProcess.run(p)
    defer {
        try? input.fileHandleForWriting.write(contentsOf: Data("ROLLBACK;\n.quit\n".utf8))
        try? input.fileHandleForWriting.close()
        if ChildProcess.wait(p, seconds: 30) == nil { p.terminate() }
    }
    input.fileHandleForWriting.write(Data("BEGIN IMMEDIATE;\nINSERT INTO kmk_meta VALUES ('lock', 1);\nSELECT 'locked';\n".utf8))
    // Wait (bounded) until the shell says it holds the lock.
    let deadline = Date().addingTimeInterval(10)
    var seen = Data()
    while Date() < deadline, !(String(decoding: seen, as: UTF8.self).contains("locked")) {
        seen += ChildProcess.readSome(output.fileHandleForReading) ?? Data()
    }
    #expect(String(decoding: seen, as: UTF8.self).contains("locked"))
    try body()
}

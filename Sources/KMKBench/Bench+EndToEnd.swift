import Foundation
import KMKClient
import KMKModel
import KMKReplica
import KMKSync

extension Bench {
    /// P3: a replica pushes its changes to a hub on loopback, a fresh replica pulls them; gzip
    /// on and off. P4: a pull of 10 new changes after a small and after the big history.
    func endToEnd(history: Bool, throughput: Bool) async throws -> [BenchLine] {
        let venues = max(1, sizes.endToEndChanges / 9)
        let rows = VenueRows(count: venues, seed: 3)
        say("P3 end to end: making a replica with \(Figure.grouped(venues * 9 + 2)) changes")
        let source = try newReplica("p3-source")
        try importChunked(source, rows.records())
        let total = try source.changeCount(after: 0)
        let sourceHash = try venueHash(source.path)
        var lines: [BenchLine] = []
        var kept: (hub: BenchHub, token: String, reader: Replica)?
        for gzip in throughput ? [true, false] : [true] {
            let (hub, tokens) = try await BenchHub.start(dbPath: newPath("p3-hub.db"), executable: options.executable, launch: options.launch,
                                                          scopes: [.municipality(municipality.code)])
            let token = tokens[.municipality(municipality.code)]!
            try source.restartPush(nextBatch: 1)
            let pushClient = try HubClient(url: hub.url, token: token, gzip: gzip)
            say("P3: push \(Figure.grouped(total)) changes, gzip \(gzip ? "on" : "off")")
            let (pushed, tPush) = try await time { try await SyncEngine(replica: source, client: pushClient).push() }
            let reader = try newReplica("p3-reader")
            let pullClient = try HubClient(url: hub.url, token: token, gzip: gzip)
            say("P3: pull them into a fresh replica")
            let (pulled, tPull) = try await time { try await SyncEngine(replica: reader, client: pullClient).pull() }
            let readerHash = try venueHash(reader.path)
            guard pushed.changes == total, pulled.changes == total else {
                throw BenchError("P3: pushed \(pushed.changes) and pulled \(pulled.changes) changes; expected \(total) each")
            }
            let check = try requireSame("P3", readerHash, sourceHash, rows: venues) + "; \(total) changes pushed and pulled"
            let (ps, pr) = pushClient.wire.totals
            let (qs, qr) = pullClient.wire.totals
            let bytes = Double(ps + pr + qs + qr)
            let seconds = tPush + tPull
            let rate = Double(total) / seconds
            lines.append(BenchLine(
                id: "P3", what: "end to end: push \(Figure.grouped(total)) changes to a hub on loopback, pull into a fresh replica, "
                    + "gzip \(gzip ? "on" : "off")",
                ours: Figure.rate(rate, "changes") + " (push " + Figure.seconds(tPush) + ", pull " + Figure.seconds(tPull) + "), "
                    + Figure.format3(bytes / Double(total)) + " B/change on the wire",
                baseline: "", ratio: rate / 100_000, ratioMeaning: "of the target rate", target: "≥ 100,000 changes/s",
                met: rate >= 100_000, check: check,
                figures: ["changes": Double(total), "push_s": tPush, "pull_s": tPull, "changes_per_s": rate,
                          "push_bytes": Double(ps + pr), "pull_bytes": Double(qs + qr), "bytes_per_change": bytes / Double(total),
                          "gzip": gzip ? 1 : 0]))
            if gzip, history {
                kept = (hub, token, reader)
            } else {
                reader.close()
                await hub.stop()
            }
        }
        if let kept {
            lines.append(try await historyLine(big: kept, bigSource: source, bigRows: rows, bigHistory: total))
            kept.reader.close()
            await kept.hub.stop()
        }
        source.close()
        return lines
    }

    /// P4: the median time of a pull of 10 new changes by a replica in step with the hub, after
    /// a small history and after the big one.
    private func historyLine(big: (hub: BenchHub, token: String, reader: Replica), bigSource: Replica, bigRows: VenueRows,
                             bigHistory: Int) async throws -> BenchLine {
        let smallVenues = max(5, sizes.smallHistory / 9)
        let smallRows = VenueRows(count: smallVenues, seed: 4)
        let smallSource = try newReplica("p4-source")
        try importChunked(smallSource, smallRows.records())
        let (smallHub, tokens) = try await BenchHub.start(dbPath: newPath("p4-hub.db"), executable: options.executable, launch: options.launch,
                                                           scopes: [.municipality(municipality.code)])
        let smallToken = tokens[.municipality(municipality.code)]!
        let smallReader = try newReplica("p4-reader")
        _ = try await SyncEngine(replica: smallSource, client: try HubClient(url: smallHub.url, token: smallToken)).push()
        _ = try await SyncEngine(replica: smallReader, client: try HubClient(url: smallHub.url, token: smallToken)).pull()
        let smallHistory = try smallSource.changeCount(after: 0)
        say("P4 history: \(sizes.historyPulls) pulls of 10 changes after \(smallHistory) and after \(bigHistory) changes")
        let tSmall = try await timedPulls(source: smallSource, rows: smallRows, reader: smallReader, url: smallHub.url, token: smallToken)
        let tBig = try await timedPulls(source: bigSource, rows: bigRows, reader: big.reader, url: big.hub.url, token: big.token)
        let same = try requireSame("P4 small", try venueHash(smallReader.path), try venueHash(smallSource.path), rows: smallVenues)
        _ = try requireSame("P4 big", try venueHash(big.reader.path), try venueHash(bigSource.path), rows: bigRows.count)
        smallSource.close()
        smallReader.close()
        await smallHub.stop()
        let ratio = tBig / tSmall
        return BenchLine(
            id: "P4", what: "history independence: pull of 10 new changes after \(Figure.grouped(smallHistory)) vs "
                + "\(Figure.grouped(bigHistory)) changes of history (median of \(sizes.historyPulls))",
            ours: Figure.seconds(tBig) + " after " + Figure.grouped(bigHistory), baseline: Figure.seconds(tSmall) + " after "
                + Figure.grouped(smallHistory),
            ratio: ratio, ratioMeaning: "of the pull time after the small history", target: "≤ 2x", met: ratio <= 2,
            check: "each pull got exactly 10 changes; readers equal to their writers (small: \(same); big: same "
                + "\(bigRows.count) rows)",
            figures: ["small_history": Double(smallHistory), "big_history": Double(bigHistory), "small_s": tSmall, "big_s": tBig])
    }

    /// Median seconds of `historyPulls` pulls, each of 10 changes the source pushed just before.
    private func timedPulls(source: Replica, rows: VenueRows, reader: Replica, url: String, token: String) async throws -> Double {
        let pushEngine = SyncEngine(replica: source, client: try HubClient(url: url, token: token))
        let pullEngine = SyncEngine(replica: reader, client: try HubClient(url: url, token: token))
        var times: [Double] = []
        for round in 0..<sizes.historyPulls {
            let start = (round * 5) % max(1, rows.count - 5)
            var five = rows
            five.ids = Array(rows.ids[start..<start + 5])
            five.values = Array(rows.values[start..<start + 5])
            try source.importRecords(five.updatingTwo(round: 1_000 + round).records(only: VenueRows.updatedFields), mode: .merge)
            let pushed = try await pushEngine.push()
            let (pulled, t) = try await time { try await pullEngine.pull() }
            guard pushed.changes == 10, pulled.changes == 10 else {
                throw BenchError("P4: pushed \(pushed.changes) and pulled \(pulled.changes) changes; expected 10 each")
            }
            times.append(t)
        }
        return times.sorted()[times.count / 2]
    }
}

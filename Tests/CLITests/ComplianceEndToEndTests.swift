import Foundation
import KMKTestSupport
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KMKModel
import Testing

/// Compliance end to end: criteria published by the styrgrupp, local and national reports, the
/// dashboard in a real headless Chromium. A real hub process and real replica files.
@Suite("compliance end to end", .serialized)
struct ComplianceEndToEndTests {
    static let fixtures = ["0484-eskilstuna", "0880-kalmar", "1283-helsingborg", "1780-karlstad"]
    static let fixtureDir = PackageDirectory.url("Fixtures")

    /// A hub with the four seed municipalities pushed, each from its own replica with its own token.
    static func seededHub(_ cli: CLI) throws -> (hub: HubProcess, replicas: [String: String]) {
        let hub = try HubProcess(cli: cli)
        var replicas: [String: String] = [:]
        for f in fixtures {
            let code = String(f.prefix(4))
            let token = try cli.token(hub: hub, ["--municipality", code], file: "\(code).token")
            let r = try cli.replica("\(code).kmk", code, hub: hub, token: token)
            let imported = try cli.run("import", fixtureDir.appendingPathComponent("\(f).json").path, "--replica", r)
            #expect(imported.status == 0, "\(imported.stderr)")
            let synced = try cli.run("sync", "--replica", r)
            #expect(synced.status == 0, "\(synced.stderr)")
            replicas[code] = r
        }
        return (hub, replicas)
    }

    /// The styrgrupp's national replica with the default criteria published and pushed.
    static func styrgrupp(_ cli: CLI, hub: HubProcess) throws -> (replica: String, token: String) {
        let token = try cli.token(hub: hub, ["--styrgrupp"], file: "styrgrupp.token")
        let p = cli.path("styrgrupp.kmk")
        #expect(try cli.run("init", p, "--national").status == 0)
        #expect(try cli.run("remote", "set", hub.url, "--replica", p).status == 0)
        FileManager.default.createFile(atPath: p + ".token", contents: Data(token.utf8), attributes: [.posixPermissions: 0o600])
        let published = try cli.run("criteria", "publish-default", "--replica", p)
        #expect(published.status == 0, "\(published.stderr)")
        let pushed = try cli.run("sync", "--replica", p)
        #expect(pushed.status == 0, "\(pushed.stderr)")
        return (p, token)
    }

    static func localReport(_ cli: CLI, _ replica: String, asOf: String) throws -> MunicipalityReport {
        let r = try cli.run("report", "compliance", "--replica", replica, "--as-of", asOf, "--format", "json")
        #expect(r.status == 0, "\(r.stderr)")
        return try ComplianceJSON.decode(MunicipalityReport.self, from: r.stdout)
    }

    @Test("report compliance works offline in table, CSV and JSON, and refuses a bad date")
    func localReportFormats() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let p = cli.path("karlstad.kmk")
        #expect(try cli.run("init", p, "--municipality", "Karlstad").status == 0)
        #expect(try cli.run("import", Self.fixtureDir.appendingPathComponent("1780-karlstad.json").path, "--replica", p).status == 0)
        let table = try cli.run("report", "compliance", "--replica", p, "--as-of", "2018-06-01")
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("Compliance of Karlstad (1780) on 2018-06-01"))
        #expect(table.stdout.contains("venue.agreement not met: agreement expired 2018-04-30"))
        #expect(table.stdout.contains("built in: no criteria set from the styrgrupp applies"))
        let csv = try cli.run("report", "compliance", "--replica", p, "--as-of", "2018-06-01", "--format", "csv")
        let lines = csv.stdout.components(separatedBy: "\r\n")
        #expect(lines.first == "municipality,subject,id,name,status,criterion,mandatory,outcome,reason")
        #expect(lines.contains { $0.hasPrefix("1780,venue,") && $0.contains(",Pub Exempel,orange,venue.agreement,yes,not_met,agreement expired 2018-04-30") })
        // 8 venues × 10 venue criteria + 8 municipality criteria + the header and the final empty line.
        #expect(lines.count == 8 * 10 + 8 + 2)
        let bad = try cli.run("report", "compliance", "--replica", p, "--as-of", "2018-13-01")
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("YYYY-MM-DD"))
        let municipalCriteria = try cli.run("criteria-set", "add", "name=x", "version=2", "valid_from=2020-01-01", "--replica", p)
        #expect(municipalCriteria.status == 65)
        #expect(municipalCriteria.stderr.contains("owned by the styrgrupp"))
    }

    @Test("a criteria change made by the styrgrupp reaches a municipality replica by pull and changes its local report")
    func criteriaChangeReachesReplica() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let (hub, replicas) = try Self.seededHub(cli)
        defer { hub.stop() }
        let esk = try #require(replicas["0484"])
        let offline = try Self.localReport(cli, esk, asOf: "2016-12-31")
        #expect(offline.criteria.builtIn)

        let (national, _) = try Self.styrgrupp(cli, hub: hub)
        #expect(try cli.run("sync", "--replica", esk).status == 0)
        let before = try Self.localReport(cli, esk, asOf: "2016-12-31")
        #expect(!before.criteria.builtIn && before.criteria.version == 1)
        func training(_ r: MunicipalityReport) -> CriterionResult? {
            r.venues.first { $0.name == "Pub Påhittet" }?.results.first { $0.code == "venue.training" }
        }
        #expect(training(before)?.outcome == .notMet)

        // A municipality cannot edit the criteria it received.
        let trainingID = try #require(CriteriaSet.kmkDefault.criteria.first { $0.code == "venue.training" }).id
        let refused = try cli.run("criterion", "update", trainingID, "params={\"staff_share\":0.5}", "--replica", esk)
        #expect(refused.status == 65)
        #expect(refused.stderr.contains("national reference data"))

        // The styrgrupp lowers the thresholds and pushes; the municipality pulls.
        let edit = try cli.run("criterion", "update", trainingID,
                               "params={\"months\":36,\"staff_share\":0.5,\"door_share\":1,\"key_share\":0.6}", "--replica", national)
        #expect(edit.status == 0, "\(edit.stderr)")
        #expect(try cli.run("sync", "--replica", national).status == 0)
        let pulled = try cli.run("sync", "--replica", esk)
        #expect(pulled.status == 0, "\(pulled.stderr)")
        let after = try Self.localReport(cli, esk, asOf: "2016-12-31")
        #expect(training(after)?.outcome == .met, "\(String(describing: training(after)))")
        #expect(training(after)?.reason.contains("10 of 16 staff trained (63%)") == true)
        // A new version from 2017 with a stricter threshold: 2016 stays judged by version 1.
        let v2 = try cli.run("criteria", "new-version", "--from", CriteriaSet.kmkDefault.id, "--valid-from", "2017-01-01",
                             "--name", "KMK-kriterier 2017", "--replica", national)
        #expect(v2.status == 0, "\(v2.stderr)")
        let newTraining = try #require(v2.stdout.split(separator: "\n").first { $0.hasSuffix("venue.training") }?
            .split(separator: " ").first.map(String.init))
        #expect(try cli.run("criterion", "update", newTraining, "params={\"months\":36,\"staff_share\":0.9}", "--replica", national).status == 0)
        #expect(try cli.run("sync", "--replica", national).status == 0)
        #expect(try cli.run("sync", "--replica", esk).status == 0)
        let old = try Self.localReport(cli, esk, asOf: "2016-12-31")
        let new = try Self.localReport(cli, esk, asOf: "2017-06-01")
        #expect(old.criteria.version == 1 && new.criteria.version == 2 && new.criteria.name == "KMK-kriterier 2017")
        #expect(training(old)?.outcome == .met)
        #expect(training(new)?.outcome == .notMet)
        #expect(training(new)?.reason.contains("10 of 16 staff trained (63%, needs 90%)") == true, "\(String(describing: training(new)))")

        // The national replica holds national data only, in step with the hub.
        #expect(try cli.status(national)["in_step"] as? Bool == true)
        let nationalExport = try cli.run("export", "--replica", national).stdout
        #expect(!nationalExport.contains("\"entity\":\"venue\""))
    }

    @Test("a municipality token is refused the national report; the styrgrupp's figures are the sums of the municipalities' own reports")
    func nationalReport() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        let (hub, replicas) = try Self.seededHub(cli)
        defer { hub.stop() }
        let (_, styrgrupp) = try Self.styrgrupp(cli, hub: hub)
        for r in replicas.values { #expect(try cli.run("sync", "--replica", r).status == 0) }

        let refused = try cli.run("report", "national", "--hub", hub.url, "--token-file", cli.path("0484.token"))
        #expect(refused.status == 77)
        #expect(refused.stderr.contains("styrgrupp"))

        let asOf = "2024-06-30"
        let r = try cli.run("report", "national", "--hub", hub.url, "--token-file", cli.path("styrgrupp.token"),
                            "--as-of", asOf, "--format", "json")
        #expect(r.status == 0, "\(r.stderr)")
        let national = try ComplianceJSON.decode(NationalReport.self, from: r.stdout)
        #expect(national.municipalities.map(\.municipality) == ["0484", "0880", "1283", "1780"])
        var sum = MunicipalityFigures()
        for line in national.municipalities {
            let own = try Self.localReport(cli, try #require(replicas[line.municipality]), asOf: asOf)
            #expect(own.figures == line.figures, "\(line.municipality)")
            #expect(own.meetsCriteria == line.meetsCriteria)
            for y in own.trend { #expect(line.trend.contains(y), "\(line.municipality) \(y.year)") }
            sum = sum + own.figures
        }
        #expect(national.totals == sum)
        #expect(national.totals.memberVenues == 30)

        // The municipality's own report from the hub: its own token yes, another's no.
        let own = try await RawHTTP.send("GET", hub.url + "/v1/reports/municipality/0484?as_of=\(asOf)",
                                         token: try String(contentsOfFile: cli.path("0484.token"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(own.status == 200)
        #expect(own.body.contains("\"municipality\":\"0484\""))
        let other = try await RawHTTP.send("GET", hub.url + "/v1/reports/municipality/0484",
                                           token: try String(contentsOfFile: cli.path("1780.token"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(other.status == 403)
        #expect(other.body.contains("\"error\":\"forbidden\""))
        let byStyrgrupp = try await RawHTTP.send("GET", hub.url + "/v1/reports/national?as_of=2016-13-01", token: styrgrupp)
        #expect(byStyrgrupp.status == 400)

        let csv = try cli.run("report", "national", "--hub", hub.url, "--token-file", cli.path("styrgrupp.token"), "--as-of", asOf, "--format", "csv")
        #expect(csv.stdout.hasPrefix("municipality,name,member_venues,compliant_venues,share"))
        #expect(csv.stdout.contains("total,Sverige,30,"))
    }

    /// `KMK_SKIP_BROWSER=1` skips it, and the run reports it as skipped, not passed.
    @Test("the hub dashboard renders in headless Chromium: national table, sorting, detail page, SVG chart",
          .enabled(if: ProcessInfo.processInfo.environment["KMK_SKIP_BROWSER"] != "1", "KMK_SKIP_BROWSER=1"))
    func dashboardInChromium() async throws {
        let chromium = ["KMK_CHROMIUM", "PATH"].lazy.compactMap { key -> String? in
            if key == "KMK_CHROMIUM" { return ProcessInfo.processInfo.environment[key] }
            return ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first { FileManager.default.isExecutableFile(atPath: $0) }
        }.first
        guard let chromium else {
            Issue.record("no Chromium found: install Debian's chromium (bash .ci/run does), set KMK_CHROMIUM, or KMK_SKIP_BROWSER=1 to skip")
            return
        }
        let cli = try CLI()
        defer { cli.remove() }
        let (hub, _) = try Self.seededHub(cli)
        defer { hub.stop() }
        let (_, styrgrupp) = try Self.styrgrupp(cli, hub: hub)

        // Without a token: the sign-in form (401); a municipality token: 403.
        let anonymous = try await RawHTTP.send("GET", hub.url + "/")
        #expect(anonymous.status == 401)
        #expect(anonymous.body.contains("<form method=\"post\" action=\"/login\""))
        let esk = try String(contentsOfFile: cli.path("0484.token"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await RawHTTP.send("GET", hub.url + "/?token=\(esk)").status == 403)
        // The sign-in form sets a cookie and redirects to the national page; a wrong token gets the form again.
        let session = URLSession(configuration: .ephemeral)
        var login = URLRequest(url: URL(string: hub.url + "/login")!)
        login.httpMethod = "POST"
        login.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        login.httpBody = Data("token=\(styrgrupp)".utf8)
        let (page, response) = try await session.data(for: login)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        #expect(String(decoding: page, as: UTF8.self).contains("Krogar mot knark – national compliance"))
        let (detail, detailResponse) = try await session.data(from: URL(string: hub.url + "/municipality/1780?as_of=2016-12-31")!)
        #expect((detailResponse as? HTTPURLResponse)?.statusCode == 200)
        #expect(String(decoding: detail, as: UTF8.self).contains("Pub Exempel"))
        login.httpBody = Data("token=kmk_wrong".utf8)
        let (_, wrong) = try await URLSession(configuration: .ephemeral).data(for: login)
        #expect((wrong as? HTTPURLResponse)?.statusCode == 401)
        // Sorting by links: share descending puts the municipality with the highest share first.
        let sorted = try await RawHTTP.send("GET", hub.url + "/?token=\(styrgrupp)&sort=members&order=desc&as_of=2024-06-30")
        #expect(sorted.status == 200)
        let order = ["Helsingborg", "Karlstad", "Eskilstuna", "Kalmar"].compactMap { sorted.body.range(of: ">\($0)</a>")?.lowerBound }
        #expect(order.count == 4 && order == order.sorted(), "members descending: Helsingborg 10, Karlstad 8, Eskilstuna 7, Kalmar 5")

        let shots = ProcessInfo.processInfo.environment["KMK_SCREENSHOT_DIR"].map { URL(fileURLWithPath: $0) } ?? cli.directory
        try FileManager.default.createDirectory(at: shots, withIntermediateDirectories: true)
        let pages = [("dashboard-national.png", "/?token=\(styrgrupp)&as_of=2024-06-30",
                      ["Krogar mot knark – national compliance", "Helsingborg", "Sverige (total)", "<svg", "Share green"]),
                     ("dashboard-eskilstuna.png", "/municipality/0484?token=\(styrgrupp)&as_of=2016-12-31",
                      ["Eskilstuna (0484)", "Pub Påhittet", "10 of 16 staff trained (63%, needs 80%)", "orange", "<svg"])]
        for (file, path, texts) in pages {
            let dom = try Self.runTool(chromium, Self.chromiumFlags + ["--dump-dom", hub.url + path])
            #expect(dom.status == 0, "\(dom.stderr.suffix(500))")
            for text in texts { #expect(dom.stdout.contains(text), "\(file): no '\(text)' in the rendered page") }
            let shot = shots.appendingPathComponent(file).path
            let r = try Self.runTool(chromium, Self.chromiumFlags + ["--screenshot=\(shot)", "--window-size=1280,1600", hub.url + path])
            #expect(r.status == 0, "\(r.stderr.suffix(500))")
            let size = (try? FileManager.default.attributesOfItem(atPath: shot)[.size] as? Int) ?? 0
            #expect(size > 10_000, "screenshot \(shot) is \(size) bytes")
            print("dashboard screenshot: \(shot) (\(size) bytes)")
        }
    }

    static let chromiumFlags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                                "--disable-extensions", "--hide-scrollbars", "--user-data-dir=" + NSTemporaryDirectory() + "kmk-chromium-\(getpid())"]

    /// Runs a program with a 90 s limit.
    static func runTool(_ path: String, _ args: [String]) throws -> CLI.Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        defer { ChildProcess.close(out, err) }
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try ChildProcess.run(p)
        nonisolated(unsafe) var outData = Data()
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { outData = ChildProcess.readAll(out.fileHandleForReading); group.leave() }
        group.enter()
        DispatchQueue.global().async { errData = ChildProcess.readAll(err.fileHandleForReading); group.leave() }
        let deadline = Date().addingTimeInterval(90)
        var exit = ChildProcess.wait(p, seconds: deadline.timeIntervalSinceNow)
        if exit == nil {
            p.terminate()
            Issue.record("\(path) did not finish within 90 s")
            exit = ChildProcess.wait(p, seconds: 30)
        }
        group.wait()
        return CLI.Result(status: exit?.status ?? -1, stdout: String(decoding: outData, as: UTF8.self),
                          stderr: String(decoding: errData, as: UTF8.self))
    }
}

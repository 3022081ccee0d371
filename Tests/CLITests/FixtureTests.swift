import Foundation
import KMKTestSupport
import Testing

@Suite("Fixtures")
struct FixtureTests {
    static let fixtures = PackageDirectory.url("Fixtures")

    @Test("each seed municipality's fixture imports into a fresh replica and exports to the same bytes",
          arguments: ["0484-eskilstuna", "1283-helsingborg", "1780-karlstad", "0880-kalmar"])
    func roundTrip(name: String) throws {
        let cli = try CLI()
        defer { cli.remove() }
        let file = Self.fixtures.appendingPathComponent("\(name).json").path
        let code = String(name.prefix(4))
        let replica = cli.path("\(code).kmk")
        #expect(try cli.run("init", replica, "--municipality", code).status == 0)
        let imported = try cli.run("import", file, "--replica", replica)
        #expect(imported.status == 0, "\(imported.stderr)")
        let exported = try cli.run("export", "--replica", replica)
        #expect(exported.stdout == (try String(contentsOfFile: file, encoding: .utf8)))
    }

    @Test("a fixture cannot be imported into another municipality's replica")
    func wrongMunicipality() throws {
        let cli = try CLI()
        defer { cli.remove() }
        #expect(try cli.run("init", cli.path("k.kmk"), "--municipality", "Karlstad").status == 0)
        let r = try cli.run("import", Self.fixtures.appendingPathComponent("0484-eskilstuna.json").path, "--replica", cli.path("k.kmk"))
        #expect(r.status == 65 && r.stderr.contains("0484"))
    }
}

import Foundation
import KMKHub
import KMKTestSupport
import Testing

/// `openapi.yaml` at the repository root describes exactly the routes the hub's router registers.
@Suite("OpenAPI routes")
struct OpenAPIRouteTests {
    /// The (method, path) pairs under `paths:` of an OpenAPI file, read line by line: a path is a
    /// key at indent 2 starting with `/`, an operation a method key at indent 4 below it.
    static func operations(_ text: String) -> Set<String> {
        var out: Set<String> = []
        var inPaths = false
        var path: String?
        let methods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line.trimmingCharacters(in: .whitespaces).hasPrefix("#") || line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            let indent = line.prefix { $0 == " " }.count
            let key = (line.trimmingCharacters(in: .whitespaces).split(separator: ":", maxSplits: 1).first.map(String.init) ?? "")
                .trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
            if indent == 0 {
                inPaths = key == "paths"
                path = nil
                continue
            }
            guard inPaths else { continue }
            if indent == 2 {
                path = key.hasPrefix("/") ? key : nil
            } else if indent == 4, let path, methods.contains(key) {
                out.insert("\(key.uppercased()) \(path)")
            }
        }
        return out
    }

    static var specText: String {
        get throws {
            return try String(contentsOf: PackageDirectory.url("openapi.yaml"), encoding: .utf8)
        }
    }

    @Test("the routes of openapi.yaml equal the hub router's registrations and HubRoutes.known")
    func routesMatch() async throws {
        let documented = Self.operations(try Self.specText)
        let dir = try TempDir()
        let registered = Set(try await HubServer.registeredRoutes(HubConfiguration(databasePath: dir.path("hub.db"))).map(\.description))
        let known = Set(HubRoutes.known.map(\.description))
        #expect(registered.count == 13, "\(registered.sorted())")
        #expect(documented == registered, """
            only in openapi.yaml: \(documented.subtracting(registered).sorted()); \
            only registered: \(registered.subtracting(documented).sorted())
            """)
        #expect(known == registered, "HubRoutes.known differs from the router: \(known.symmetricDifference(registered).sorted())")
    }

    @Test("the line-based reader finds paths and methods and ignores the rest")
    func reader() {
        let text = """
            openapi: 3.1.0
            paths:
              /a:
                get:
                  responses: {}
                post:
                  summary: x
              '/b/{id}':
                parameters: []
                delete:
                  responses: {}
            components:
              schemas:
                get:
                  type: object
            """
        #expect(Self.operations(text) == ["GET /a", "POST /a", "DELETE /b/{id}"])
    }
}

import Foundation
import KMKModel
import KMKTestSupport
import Testing

@Suite("SPEC.md")
struct SpecTests {
    static let specPath = PackageDirectory.url("SPEC.md").path

    @Test("the data model tables in SPEC.md equal the schema in the code")
    func schemaTablesMatch() throws {
        let spec = try String(contentsOfFile: Self.specPath, encoding: .utf8)
        guard let begin = spec.range(of: "<!-- schema:begin -->\n"), let end = spec.range(of: "<!-- schema:end -->") else {
            Issue.record("SPEC.md lacks the schema markers")
            return
        }
        let embedded = String(spec[begin.upperBound..<end.lowerBound])
        #expect(embedded == Schema.current.markdown() + "\n",
                "regenerate with: kmk-sync schema --markdown, between the markers in SPEC.md")
    }

    @Test("entity and field numbers are unique, and every reference names an entity")
    func schemaIsConsistent() {
        let schema = Schema.current
        #expect(Set(schema.entities.map(\.number)).count == schema.entities.count)
        #expect(Set(schema.entities.map(\.name)).count == schema.entities.count)
        for e in schema.entities {
            #expect(Set(e.fields.map(\.number)).count == e.fields.count, "\(e.name)")
            #expect(e.fields.allSatisfy { $0.number > 0 }, "field number 0 is the row lifecycle")
            #expect(e.field(e.titleField) != nil, "\(e.name) title")
            for f in e.referenceFields {
                guard case .reference(let target) = f.kind else { continue }
                #expect(schema.entity(target) != nil, "\(e.name).\(f.name) -> \(target)")
            }
        }
    }
}

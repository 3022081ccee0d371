import KMKModel
import Testing

@Suite("JSON")
struct JSONTests {
    @Test("parses values exactly, with lines")
    func parse() throws {
        let v = try JSONValue.parse("{\"a\": 1,\n \"b\": [true, null, \"x\\u00e5\\ud83e\\udd89\"],\n \"c\": 12.50}")
        #expect(v["a"] == .number("1"))
        #expect(v["b"] == .array([.bool(true), .null, .string("xå🦉")]))
        #expect(v["c"] == .number("12.50"))
        guard case .object(let members) = v else { Issue.record("not an object"); return }
        #expect(members.map(\.line) == [1, 2, 3])
    }

    @Test("refuses bad input with a position", arguments: [
        "{", "[1,]", "{\"a\" 1}", "\"abc", "01", "1.", "nul", "{\"a\":1} x", "\"\\ud800\"",
        String(repeating: "[", count: 200) + String(repeating: "]", count: 200),
    ])
    func refuse(text: String) {
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(text) }
    }

    @Test("canonical strings escape only what they must")
    func canonical() {
        #expect(CanonicalJSON.string("a\"b\\c\nå🦉\u{01}") == "\"a\\\"b\\\\c\\nå🦉\\u0001\"")
        #expect(CanonicalJSON.object([("b", "1"), ("a", "2"), ("Ä", "3")]) == "{\"a\":2,\"b\":1,\"Ä\":3}")
    }

    @Test("an export decodes with file, line and field in errors")
    func exportErrors() throws {
        let text = """
            {"format":"kmk-sync-export","municipality":"0484","schema":1,"records":[
            {"entity":"venue","fields":{"membership":"member","name":"A"},"id":"11111111-1111-4111-8111-111111111111"},
            {"entity":"venue","fields":{"membership":"medlem","name":"B"},"id":"22222222-2222-4222-8222-222222222222"}
            ]}
            """
        do {
            _ = try ExportDocument.decode(text, file: "x.json")
            Issue.record("should fail")
        } catch {
            #expect(error.message.hasPrefix("x.json:3:"))
            #expect(error.message.contains("membership"))
        }
        let newer = "{\"format\":\"kmk-sync-export\",\"municipality\":null,\"schema\":9,\"records\":[]}"
        #expect(throws: ModelError.self) { try ExportDocument.decode(newer, file: "n.json") }
    }
}

import Foundation

/// The JSON form of reports (SPEC.md §12.4): snake_case keys, sorted, UTF-8.
public enum ComplianceJSON {
    /// Encodes a report; `pretty` adds line breaks and indentation.
    public static func encode<T: Encodable>(_ value: T, pretty: Bool = false) -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        // Reports hold only strings, numbers, booleans and arrays of them: encoding cannot fail.
        let data = (try? encoder.encode(value)) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Decodes a report, with a message naming what did not fit.
    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws(ModelError) -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(type, from: Data(text.utf8))
        } catch {
            throw ModelError(.invalidDocument, "the report is not in the expected form: \(error)")
        }
    }
}

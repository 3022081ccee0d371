import Foundation

/// One of Sweden's 290 municipalities, identified by SCB's four-digit kommunkod.
public struct Municipality: Hashable, Sendable, CustomStringConvertible {
    /// The kommunkod, e.g. `0484`.
    public let code: String
    /// The name, e.g. `Eskilstuna`.
    public let name: String
    /// The county code, e.g. `04`.
    public let countyCode: String
    /// The county, e.g. `Södermanlands län`.
    public let county: String

    public var description: String { "\(name) (\(code))" }

    /// The municipality with this kommunkod or name (case-insensitive, å ä ö significant).
    ///
    /// Throws with suggestions when nothing matches.
    public static func find(_ codeOrName: String) throws(ModelError) -> Municipality {
        let key = codeOrName.trimmingCharacters(in: .whitespaces)
        if let m = byCode[key] { return m }
        let lower = key.lowercased()
        if let m = all.first(where: { $0.name.lowercased() == lower }) { return m }
        let near = all.filter { $0.name.lowercased().hasPrefix(String(lower.prefix(3))) }.prefix(5)
        var message = "'\(codeOrName)' is not a Swedish municipality; give the four-digit kommunkod (e.g. 0484) or the name"
        if !near.isEmpty { message += "; did you mean: " + near.map(\.description).joined(separator: ", ") }
        throw ModelError(.unknownMunicipality, message)
    }

    /// Municipalities by kommunkod.
    public static let byCode: [String: Municipality] = Dictionary(uniqueKeysWithValues: all.map { ($0.code, $0) })
}

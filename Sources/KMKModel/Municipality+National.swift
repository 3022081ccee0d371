extension Municipality {
    /// The styrgrupp's national replica (SPEC.md §12.1): not a municipality, it holds and edits
    /// national reference data (the criteria) only. Its code `0000` is no kommunkod.
    public static let national = Municipality(code: "0000", name: "Styrgruppen (nationell)", countyCode: "00", county: "hela landet")

    /// True for the styrgrupp's national replica.
    public var isNational: Bool { code == Municipality.national.code }

    /// The municipality a replica file names, including the national replica's `0000`.
    public static func forReplica(code: String) -> Municipality? {
        code == national.code ? national : byCode[code]
    }
}

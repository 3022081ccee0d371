/// A benchmark that could not run, or whose two sides did not produce the same data.
public struct BenchError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, in words.
    public let message: String

    init(_ message: String) { self.message = message }

    public var description: String { message }
}

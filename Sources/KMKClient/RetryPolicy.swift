/// How requests are retried: connection errors and 5xx answers are tried again up to
/// `attempts` times in all, waiting `base · 2^n` (capped at `cap`) with full jitter in between.
public struct RetryPolicy: Hashable, Sendable {
    public var attempts: Int
    public var baseMillis: UInt64
    public var capMillis: UInt64
    /// Each request's timeout, in seconds.
    public var timeout: Double

    public init(attempts: Int = 4, baseMillis: UInt64 = 500, capMillis: UInt64 = 8_000, timeout: Double = 30) {
        self.attempts = max(1, attempts)
        self.baseMillis = baseMillis
        self.capMillis = capMillis
        self.timeout = timeout
    }

    /// The wait before retry number `n` (1-based): random in [0, min(cap, base · 2^(n-1))].
    public func delay(beforeRetry n: Int, random: inout some RandomNumberGenerator) -> UInt64 {
        let ceiling = min(capMillis, baseMillis << UInt64(min(n - 1, 20)))
        return ceiling == 0 ? 0 : UInt64.random(in: 0...ceiling, using: &random)
    }
}

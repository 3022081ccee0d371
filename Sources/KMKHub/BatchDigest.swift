import Dispatch
import KMKSync

/// A push batch's digest (``PushBatch/digest``), computed on another thread while the store
/// merges the batch: the store needs it only to compare a resent batch and to record it at the
/// end of the transaction, and SHA-256 over every change is about a tenth of a push's work.
final class BatchDigest: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    // Written once on the other thread before `done` is signalled; read only after waiting.
    private var digest = ""

    init(_ batch: PushBatch) {
        DispatchQueue.global().async { [self] in
            digest = batch.digest
            done.signal()
        }
    }

    /// The digest, waiting for it if it is not ready yet.
    func value() -> String {
        done.wait()
        defer { done.signal() }
        return digest
    }
}

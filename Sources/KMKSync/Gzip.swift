import CZlib

/// gzip (RFC 1952) compression of HTTP bodies, through the system zlib.
public enum Gzip {
    /// Whether `bytes` start with the gzip magic number.
    public static func isGzip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    /// The compression level bodies are sent with: zlib's fastest. Push bodies and pull pages
    /// are compressed once per request on the hot path of both sides; on the P3 benchmark level
    /// 6 took about a quarter of the pushing client's CPU, level 1 a fraction of that for a body
    /// about a third bigger. Any level is the same gzip to the reader.
    public static let defaultLevel: Int32 = 1

    /// Compresses `bytes` into one gzip member.
    public static func compress(_ bytes: [UInt8], level: Int32 = defaultLevel) -> [UInt8] {
        var stream = z_stream()
        guard kmk_deflate_init_gzip(&stream, level) == Z_OK else { return [] }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, UInt(bytes.count))) + 32
        var rc: Int32 = Z_OK
        // Written by deflate only (not zeroed first); deflateBound guarantees one call finishes.
        // zlib reads the input through a non-const pointer but never writes it: no copy of the body.
        let out = [UInt8](unsafeUninitializedCapacity: bound) { outBuf, written in
            rc = bytes.withUnsafeBufferPointer { inBuf in
                stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
                stream.avail_in = UInt32(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = UInt32(outBuf.count)
                return deflate(&stream, Z_FINISH)
            }
            written = Int(stream.total_out)
        }
        precondition(rc == Z_STREAM_END, "deflate with a deflateBound buffer must finish in one call")
        return out
    }

    /// Decompresses a gzip body, refusing one that would inflate beyond `limit` bytes.
    public static func decompress(_ bytes: [UInt8], limit: Int) throws(SyncError) -> [UInt8] {
        var stream = z_stream()
        guard kmk_inflate_init_gzip(&stream) == Z_OK else { throw SyncError(.invalid, "cannot start gzip decoding") }
        defer { inflateEnd(&stream) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var rc: Int32 = Z_OK
        bytes.withUnsafeBufferPointer { inBuf in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            stream.avail_in = UInt32(inBuf.count)
            repeat {
                let produced: Int = chunk.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = UInt32(outBuf.count)
                    rc = inflate(&stream, Z_NO_FLUSH)
                    return outBuf.count - Int(stream.avail_out)
                }
                out.append(contentsOf: chunk[0..<produced])
                if out.count > limit { rc = Z_MEM_ERROR; return }
            } while rc == Z_OK && (stream.avail_in > 0 || stream.avail_out == 0)
        }
        if out.count > limit {
            throw SyncError(.tooLarge, "the gzip body inflates to more than \(limit) bytes")
        }
        guard rc == Z_STREAM_END else {
            throw SyncError(.invalid, "the body is not valid gzip (zlib code \(rc)); send it uncompressed or gzip it whole")
        }
        return out
    }
}

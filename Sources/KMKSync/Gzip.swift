import CZlib

/// gzip (RFC 1952) compression of HTTP bodies, through the system zlib.
public enum Gzip {
    /// Whether `bytes` start with the gzip magic number.
    public static func isGzip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    /// Compresses `bytes` into one gzip member.
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
        var stream = z_stream()
        guard kmk_deflate_init_gzip(&stream, level) == Z_OK else { return [] }
        defer { deflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(bytes.count))) + 32)
        var input = bytes
        let rc = input.withUnsafeMutableBufferPointer { inBuf in
            out.withUnsafeMutableBufferPointer { outBuf in
                stream.next_in = inBuf.baseAddress
                stream.avail_in = UInt32(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = UInt32(outBuf.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        precondition(rc == Z_STREAM_END, "deflate with a deflateBound buffer must finish in one call")
        out.removeLast(out.count - Int(stream.total_out))
        return out
    }

    /// Decompresses a gzip body, refusing one that would inflate beyond `limit` bytes.
    public static func decompress(_ bytes: [UInt8], limit: Int) throws(SyncError) -> [UInt8] {
        var stream = z_stream()
        guard kmk_inflate_init_gzip(&stream) == Z_OK else { throw SyncError(.invalid, "cannot start gzip decoding") }
        defer { inflateEnd(&stream) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var input = bytes
        var rc: Int32 = Z_OK
        input.withUnsafeMutableBufferPointer { inBuf in
            stream.next_in = inBuf.baseAddress
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

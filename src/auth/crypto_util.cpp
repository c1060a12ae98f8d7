#include "auth/crypto_util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace sluice::auth {

namespace {

constexpr char kBase64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Each byte's value in the alphabet, -1 for bytes outside it (including '=', which the decoder
// handles itself).
constexpr std::array<int8_t, 256> kBase64Values = [] {
    std::array<int8_t, 256> values{};
    values.fill(-1);
    for (int i = 0; i < 64; ++i) values[static_cast<unsigned char>(kBase64Alphabet[i])] = static_cast<int8_t>(i);
    return values;
}();

[[noreturn]] void cryptoFailure(const char* what) {
    // No recovery is safe here, and the logger may itself need memory or randomness.
    std::fprintf(stderr, "sluice: fatal: OpenSSL %s failed\n", what);
    std::abort();
}

}  // namespace

bool constantTimeEquals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    if (a.empty()) return true;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

namespace {

// Random bytes are drawn from OpenSSL a few hundred at a time: a RAND_bytes call sets up its
// generator anew each time (about 13,000 instructions, a tenth of a SCRAM login's), whatever
// it is asked for. Each thread keeps its own unread bytes; a child of fork() drops the forking
// thread's, so that no byte is ever handed out twice.
constexpr size_t kRandomPoolBytes = 512;

struct RandomPool {
    uint8_t bytes[kRandomPoolBytes];
    size_t unread = 0;  // the last `unread` bytes of `bytes`
};
thread_local RandomPool randomPool;

void dropPoolInChild() { randomPool.unread = 0; }

void drawFromOpenSsl(uint8_t* out, size_t n) {
    while (n > 0) {
        // RAND_bytes takes an int; chunk so huge requests cannot overflow it.
        const int chunk = n > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(n);
        if (RAND_bytes(out, chunk) != 1) cryptoFailure("RAND_bytes");
        out += chunk;
        n -= static_cast<size_t>(chunk);
    }
}

}  // namespace

void randomBytes(uint8_t* out, size_t n) {
    static std::once_flag forkHandler;
    std::call_once(forkHandler, [] { pthread_atfork(nullptr, nullptr, dropPoolInChild); });
    RandomPool& pool = randomPool;
    if (n > kRandomPoolBytes / 4) {  // a large request gains nothing from the pool
        drawFromOpenSsl(out, n);
        return;
    }
    if (pool.unread < n) {
        drawFromOpenSsl(pool.bytes, kRandomPoolBytes);
        pool.unread = kRandomPoolBytes;
    }
    uint8_t* first = pool.bytes + kRandomPoolBytes - pool.unread;
    std::memcpy(out, first, n);
    OPENSSL_cleanse(first, n);  // handed out bytes do not stay in memory
    pool.unread -= n;
}

std::string randomBytes(size_t n) {
    std::string bytes(n, '\0');
    randomBytes(reinterpret_cast<uint8_t*>(bytes.data()), n);
    return bytes;
}

std::string base64Encode(std::string_view data) {
    std::string out((data.size() + 2) / 3 * 4, '=');  // the padding stays where no group reaches
    auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
    char* text = out.data();
    for (size_t i = 0; i < data.size(); i += 3, text += 4) {
        const size_t n = std::min<size_t>(3, data.size() - i);
        const uint32_t group = bytes[i] << 16 | (n > 1 ? bytes[i + 1] << 8 : 0) | (n > 2 ? bytes[i + 2] : 0);
        text[0] = kBase64Alphabet[(group >> 18) & 63];
        text[1] = kBase64Alphabet[(group >> 12) & 63];
        if (n > 1) text[2] = kBase64Alphabet[(group >> 6) & 63];
        if (n > 2) text[3] = kBase64Alphabet[group & 63];
    }
    return out;
}

bool base64Decode(std::string_view text, std::string& out) {
    out.clear();
    if (text.size() % 4 != 0) return false;
    const size_t padding = text.empty() ? 0 : text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
    out.resize(text.size() / 4 * 3);
    auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
    auto* decoded = reinterpret_cast<unsigned char*>(out.data());
    for (size_t i = 0; i < text.size(); i += 4, decoded += 3) {
        // The padding positions count as 'A' (zero); any other '=' is outside the alphabet.
        const bool lastGroup = i + 4 == text.size();
        const int a = kBase64Values[bytes[i]], b = kBase64Values[bytes[i + 1]];
        const int c = lastGroup && padding == 2 ? 0 : kBase64Values[bytes[i + 2]];
        const int d = lastGroup && padding >= 1 ? 0 : kBase64Values[bytes[i + 3]];
        if ((a | b | c | d) < 0) return false;
        const uint32_t group = static_cast<uint32_t>(a << 18 | b << 12 | c << 6 | d);
        decoded[0] = static_cast<unsigned char>(group >> 16);
        decoded[1] = static_cast<unsigned char>(group >> 8);
        decoded[2] = static_cast<unsigned char>(group);
        // Canonical encodings leave the bits under the padding zero; anything else means the
        // text was not produced by an encoder of the bytes we would return.
        if (lastGroup && padding == 1 && (group & 0xff) != 0) return false;
        if (lastGroup && padding == 2 && (group & 0xffff) != 0) return false;
    }
    out.erase(out.size() - padding);  // what the padding stood for
    return true;
}

namespace {

// SHA-256 through objects each thread fetches once and reuses. The one-shot EVP_Digest looks
// the algorithm up in the provider and makes and frees a context on every call.
struct Sha256Objects {
    EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EVP_MD_CTX* digest = EVP_MD_CTX_new();

    Sha256Objects() {
        if (md == nullptr || digest == nullptr) cryptoFailure("SHA-256 setup");
    }
    ~Sha256Objects() {
        EVP_MD_CTX_free(digest);
        EVP_MD_free(md);
    }
    Sha256Objects(const Sha256Objects&) = delete;
    Sha256Objects& operator=(const Sha256Objects&) = delete;
};

Sha256Objects& sha256Objects() {
    thread_local Sha256Objects objects;
    return objects;
}

// H(first || second), on the thread's reused context.
Sha256Digest sha256Of(std::string_view first, std::string_view second) {
    Sha256Objects& objects = sha256Objects();
    Sha256Digest digest{};
    unsigned int length = 0;
    if (EVP_DigestInit_ex2(objects.digest, objects.md, nullptr) != 1 ||
        EVP_DigestUpdate(objects.digest, first.data(), first.size()) != 1 ||
        EVP_DigestUpdate(objects.digest, second.data(), second.size()) != 1 ||
        EVP_DigestFinal_ex(objects.digest, digest.data(), &length) != 1 || length != digest.size())
        cryptoFailure("SHA-256");
    return digest;
}

}  // namespace

Sha256Digest sha256(std::string_view data) { return sha256Of(data, {}); }

// RFC 2104 over the reused SHA-256 context: H((K ^ opad) || H((K ^ ipad) || m)). OpenSSL's
// EVP_MAC, keyed anew for each call, duplicated its digest contexts every time: 17 of the 27
// allocations OpenSSL made per SCRAM login.
Sha256Digest hmacSha256(std::string_view key, std::string_view data) {
    constexpr size_t kBlock = 64;  // SHA-256's block size
    Sha256Digest hashedKey{};
    if (key.size() > kBlock) {  // a longer key is hashed first
        hashedKey = sha256(key);
        key = asStringView(hashedKey);
    }
    std::array<char, kBlock> innerPad{}, outerPad{};
    for (size_t i = 0; i < kBlock; ++i) {
        const char k = i < key.size() ? key[i] : 0;
        innerPad[i] = static_cast<char>(k ^ 0x36);
        outerPad[i] = static_cast<char>(k ^ 0x5c);
    }
    const Sha256Digest inner = sha256Of({innerPad.data(), kBlock}, data);
    Sha256Digest mac = sha256Of({outerPad.data(), kBlock}, asStringView(inner));
    OPENSSL_cleanse(innerPad.data(), kBlock);  // both pads give the key away
    OPENSSL_cleanse(outerPad.data(), kBlock);
    OPENSSL_cleanse(hashedKey.data(), hashedKey.size());
    return mac;
}

Sha256Digest pbkdf2Sha256(std::string_view password, std::string_view salt, int iterations) {
    Sha256Digest digest{};
    if (iterations < 1 || password.size() > static_cast<size_t>(INT_MAX) || salt.size() > static_cast<size_t>(INT_MAX))
        cryptoFailure("PBKDF2 arguments");  // callers validate; reaching here is a programming error
    if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                          reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                          iterations, EVP_sha256(), static_cast<int>(digest.size()), digest.data()) != 1)
        cryptoFailure("PBKDF2");
    return digest;
}

}  // namespace sluice::auth

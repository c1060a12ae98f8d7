// Numeric codes of PostgreSQL wire protocol 3.0: protocol versions, the special startup
// request codes, message type bytes, authentication request codes and the SQLSTATEs a
// pooler sends to its clients.
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice::proto {

// Startup-packet codes. A protocol version is (major << 16) | minor; the three request
// codes are deliberately "versions" 1234.5678..5680 that no real protocol will ever use.
constexpr int32_t kProtocolV3 = 3 << 16;  // 196608: protocol 3.0
constexpr uint16_t kProtocolMajor = 3;
// The newest 3.x minor version we speak; clients asking for more get NegotiateProtocolVersion.
constexpr uint16_t kNewestProtocolMinor = 0;
constexpr int32_t kCancelRequestCode = 80877102;  // 1234 << 16 | 5678
constexpr int32_t kSslRequestCode = 80877103;     // 1234 << 16 | 5679
constexpr int32_t kGssEncRequestCode = 80877104;  // 1234 << 16 | 5680

// PostgreSQL refuses startup packets longer than this (MAX_STARTUP_PACKET_LENGTH);
// an untrusted peer must not make us buffer more before it has authenticated.
constexpr uint32_t kMaxStartupPacketLength = 10000;

// Message type bytes. Frontend and backend reuse letters with different meanings
// ('S' is Sync from a client but ParameterStatus from a server, 'E' is Execute or
// ErrorResponse, 'C' Close or CommandComplete, 'D' Describe or DataRow, 'H' Flush or
// CopyOutResponse), so every constant is named after its message, never its letter;
// which table applies depends on the direction the bytes travel.
namespace msg {

// Frontend (client -> server).
constexpr char kQuery = 'Q';
constexpr char kParse = 'P';
constexpr char kBind = 'B';
constexpr char kExecute = 'E';
constexpr char kDescribe = 'D';
constexpr char kClose = 'C';
constexpr char kSync = 'S';
constexpr char kFlush = 'H';
constexpr char kTerminate = 'X';
constexpr char kFunctionCall = 'F';
// Also carries SASLInitialResponse, SASLResponse and GSSResponse: the server's last
// authentication request says which one it is.
constexpr char kPasswordMessage = 'p';

// Both directions.
constexpr char kCopyData = 'd';
constexpr char kCopyDone = 'c';
constexpr char kCopyFail = 'f';  // frontend only, listed with its COPY siblings

// Backend (server -> client).
constexpr char kAuthentication = 'R';
constexpr char kBackendKeyData = 'K';
constexpr char kParameterStatus = 'S';
constexpr char kReadyForQuery = 'Z';
constexpr char kErrorResponse = 'E';
constexpr char kNoticeResponse = 'N';
constexpr char kNotificationResponse = 'A';
constexpr char kCommandComplete = 'C';
constexpr char kRowDescription = 'T';
constexpr char kDataRow = 'D';
constexpr char kEmptyQueryResponse = 'I';
constexpr char kCopyInResponse = 'G';
constexpr char kCopyOutResponse = 'H';
constexpr char kCopyBothResponse = 'W';
constexpr char kParseComplete = '1';
constexpr char kBindComplete = '2';
constexpr char kCloseComplete = '3';
constexpr char kNoData = 'n';
constexpr char kPortalSuspended = 's';
constexpr char kParameterDescription = 't';
constexpr char kNegotiateProtocolVersion = 'v';
constexpr char kFunctionCallResponse = 'V';

}  // namespace msg

// The int32 that follows an Authentication ('R') message's header.
constexpr int32_t kAuthOk = 0;
constexpr int32_t kAuthKerberosV5 = 2;
constexpr int32_t kAuthCleartext = 3;
constexpr int32_t kAuthMd5 = 5;
constexpr int32_t kAuthScmCredential = 6;
constexpr int32_t kAuthGss = 7;
constexpr int32_t kAuthGssContinue = 8;
constexpr int32_t kAuthSspi = 9;
constexpr int32_t kAuthSasl = 10;
constexpr int32_t kAuthSaslContinue = 11;
constexpr int32_t kAuthSaslFinal = 12;

// A readable name for an authentication request code, for log and error messages.
constexpr std::string_view authRequestName(int32_t code) {
    switch (code) {
        case kAuthOk: return "AuthenticationOk";
        case kAuthKerberosV5: return "KerberosV5";
        case kAuthCleartext: return "cleartext password";
        case kAuthMd5: return "MD5 password";
        case kAuthScmCredential: return "SCM credential";
        case kAuthGss: return "GSSAPI";
        case kAuthGssContinue: return "GSSAPI continue";
        case kAuthSspi: return "SSPI";
        case kAuthSasl: return "SASL";
        case kAuthSaslContinue: return "SASL continue";
        case kAuthSaslFinal: return "SASL final";
        default: return "unknown";
    }
}

// ReadyForQuery transaction status bytes.
constexpr char kTxIdle = 'I';
constexpr char kTxInBlock = 'T';
constexpr char kTxFailed = 'E';

// SQLSTATE codes (PostgreSQL Appendix A) the pooler puts in the ErrorResponses it makes.
namespace sqlstate {
constexpr std::string_view kConnectionException = "08000";
constexpr std::string_view kSqlclientUnableToEstablishSqlconnection = "08001";
constexpr std::string_view kConnectionFailure = "08006";
constexpr std::string_view kProtocolViolation = "08P01";
constexpr std::string_view kFeatureNotSupported = "0A000";
constexpr std::string_view kInvalidParameterValue = "22023";
constexpr std::string_view kInFailedTransaction = "25P02";
constexpr std::string_view kIdleInTransactionSessionTimeout = "25P03";
constexpr std::string_view kTransactionTimeout = "25P04";
constexpr std::string_view kInvalidAuthorizationSpecification = "28000";
constexpr std::string_view kInvalidPassword = "28P01";
constexpr std::string_view kInvalidCatalogName = "3D000";
constexpr std::string_view kSyntaxError = "42601";
constexpr std::string_view kInsufficientPrivilege = "42501";
constexpr std::string_view kUndefinedObject = "42704";
constexpr std::string_view kTooManyConnections = "53300";
constexpr std::string_view kProgramLimitExceeded = "54000";
constexpr std::string_view kObjectNotInPrerequisiteState = "55000";
constexpr std::string_view kQueryCanceled = "57014";
constexpr std::string_view kAdminShutdown = "57P01";
constexpr std::string_view kCannotConnectNow = "57P03";
constexpr std::string_view kIdleSessionTimeout = "57P05";
constexpr std::string_view kInternalError = "XX000";
}  // namespace sqlstate

}  // namespace sluice::proto

#include "tls_certs.h"

#include <sys/stat.h>

#include <cstdlib>
#include <stdexcept>

#include "pg_server.h"

namespace sluice::itest {

namespace {

void run(const std::string& command, const std::string& dir) {
    const std::string log = dir + "/openssl.log";
    if (std::system((command + " >>" + log + " 2>&1").c_str()) != 0)
        throw std::runtime_error("openssl failed: " + command + "\n" + lastLines(readTextFile(log), 20));
}

}  // namespace

TestCertificates makeCertificates(const std::string& dir, const std::string& clientCommonName, const std::string& tag) {
    TestCertificates c;
    const std::string p = dir + "/" + tag + "-";
    c.caCert = p + "ca.crt";
    c.serverCert = p + "server.crt";
    c.serverKey = p + "server.key";
    c.clientCert = p + "client.crt";
    c.clientKey = p + "client.key";
    const std::string ext = p + "server.ext";
    writeTextFile(ext, "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=Sluice test CA " + tag + "' -keyout " + p +
            "ca.key -out " + c.caCert,
        dir);
    run("openssl req -newkey rsa:2048 -nodes -subj '/CN=localhost' -keyout " + c.serverKey + " -out " + p +
            "server.csr",
        dir);
    run("openssl x509 -req -in " + p + "server.csr -CA " + c.caCert + " -CAkey " + p + "ca.key -CAcreateserial -days 2 -extfile " +
            ext + " -out " + c.serverCert,
        dir);
    run("openssl req -newkey rsa:2048 -nodes -subj '/CN=" + clientCommonName + "' -keyout " + c.clientKey + " -out " +
            p + "client.csr",
        dir);
    run("openssl x509 -req -in " + p + "client.csr -CA " + c.caCert + " -CAkey " + p + "ca.key -CAcreateserial -days 2 -out " +
            c.clientCert,
        dir);
    chmod(c.clientKey.c_str(), 0600);
    chmod(c.serverKey.c_str(), 0600);
    return c;
}

}  // namespace sluice::itest

// A partner's client on Apache WSS4J itself (1.6, Debian's libwss4j-java), with its own defaults
// where the hub's profile leaves a choice: WSSecTimestamp and WSSecSignature write the Security header,
// the certificate as a BinarySecurityToken (DirectReference), and WSSecurityEngine verifies the hub's
// answers against a trust store holding the hub's certificate, as a WSS4JInInterceptor does in CXF.
//
//   java -cp <wss4j and its jars> Wss4jPartner.java serve
//     sign   <unsigned.xml> <key.pk8.der> <cert.pem> <signed.xml>
//     verify <answer.xml> <hub.pem>
//
// One command per line, its arguments tab-separated; one JSON line back for each.

import java.io.*;
import java.nio.file.*;
import java.security.*;
import java.security.cert.*;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.*;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import org.apache.ws.security.*;
import org.apache.ws.security.components.crypto.Merlin;
import org.apache.ws.security.message.*;
import org.w3c.dom.*;

public class Wss4jPartner {
    static final String SOAP = "http://schemas.xmlsoap.org/soap/envelope/";
    static final String VH = "urn:lv:welfare-hub:viss-header:v1";
    static final String ALIAS = "partner", PASSWORD = "partner";

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
        for (String line; (line = in.readLine()) != null && !line.isEmpty(); ) {
            System.out.println(run(line.split("\t")));
            System.out.flush();
        }
    }

    static String run(String[] a) {
        try {
            switch (a[0]) {
                case "sign":
                    Files.write(Path.of(a[4]), sign(Files.readAllBytes(Path.of(a[1])), Path.of(a[2]), Path.of(a[3])));
                    return "{\"signed\":" + quote(a[4]) + "}";
                case "verify":
                    return verify(Files.readAllBytes(Path.of(a[1])), certificate(Path.of(a[2])));
                default:
                    return "{\"error\":" + quote("unknown command " + a[0]) + "}";
            }
        } catch (Throwable e) {
            return "{\"error\":" + quote(e.toString() + (e.getCause() == null ? "" : " caused by " + e.getCause())) + "}";
        }
    }

    // The Timestamp, the VISS MessageHeader and the Body signed, as the hub's profile asks; the rest
    // is WSS4J's default: exclusive C14N with InclusiveNamespaces, a BinarySecurityToken.
    static byte[] sign(byte[] unsigned, Path keyFile, Path certFile) throws Exception {
        X509Certificate cert = certificate(certFile);
        String algorithm = cert.getPublicKey().getAlgorithm(); // "RSA" or "EC"
        PrivateKey key = KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(Files.readAllBytes(keyFile)));
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        store.setKeyEntry(ALIAS, key, PASSWORD.toCharArray(), new java.security.cert.Certificate[] {cert});
        Merlin crypto = new Merlin();
        crypto.setKeyStore(store);

        Document doc = parse(unsigned);
        WSSecHeader header = new WSSecHeader();
        header.setMustUnderstand(true);
        header.insertSecurityHeader(doc);
        WSSecTimestamp timestamp = new WSSecTimestamp();
        timestamp.setTimeToLive(300);
        timestamp.build(doc, header);
        WSSecSignature signature = new WSSecSignature();
        signature.setUserInfo(ALIAS, PASSWORD);
        signature.setKeyIdentifierType(WSConstants.BST_DIRECT_REFERENCE);
        signature.setSignatureAlgorithm(algorithm.equals("EC")
            ? "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
            : "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256");
        signature.setDigestAlgo("http://www.w3.org/2001/04/xmlenc#sha256");
        List<WSEncryptionPart> parts = new ArrayList<>();
        parts.add(new WSEncryptionPart("Timestamp", WSConstants.WSU_NS, ""));
        parts.add(new WSEncryptionPart("MessageHeader", VH, ""));
        parts.add(new WSEncryptionPart("Body", SOAP, ""));
        signature.setParts(parts);
        signature.build(doc, crypto, header);
        return serialize(doc);
    }

    // What WSS4J's engine makes of the answer's Security header: the actions it processed, whether the
    // signing certificate is the hub's (trusted through the trust store, as CXF checks it), and the
    // local names of the elements the signature covers. An answer it refuses raises.
    static String verify(byte[] answer, X509Certificate hubCert) throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("hub", hubCert);
        Merlin crypto = new Merlin();
        crypto.setTrustStore(trust);
        List<WSSecurityEngineResult> results = new WSSecurityEngine().processSecurityHeader(parse(answer), null, null, crypto);
        List<String> actions = new ArrayList<>(), covered = new ArrayList<>();
        X509Certificate signer = null;
        for (WSSecurityEngineResult result : results == null ? List.<WSSecurityEngineResult>of() : results) {
            int action = (Integer) result.get(WSSecurityEngineResult.TAG_ACTION);
            actions.add(action == WSConstants.SIGN ? "\"Signature\"" : action == WSConstants.TS ? "\"Timestamp\"" : "\"" + action + "\"");
            if (action == WSConstants.SIGN) {
                signer = (X509Certificate) result.get(WSSecurityEngineResult.TAG_X509_CERTIFICATE);
                @SuppressWarnings("unchecked")
                List<WSDataRef> references = (List<WSDataRef>) result.get(WSSecurityEngineResult.TAG_DATA_REF_URIS);
                for (WSDataRef reference : references) covered.add(quote(reference.getName().getLocalPart()));
            }
        }
        return "{\"actions\":" + actions + ",\"hubSigned\":" + (signer != null && signer.equals(hubCert))
            + ",\"covered\":" + covered + "}";
    }

    static X509Certificate certificate(Path pem) throws Exception {
        try (InputStream in = Files.newInputStream(pem)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    static Document parse(byte[] xml) throws Exception {
        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        factory.setNamespaceAware(true);
        factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        return factory.newDocumentBuilder().parse(new ByteArrayInputStream(xml));
    }

    static byte[] serialize(Document doc) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        TransformerFactory.newInstance().newTransformer().transform(new DOMSource(doc), new StreamResult(out));
        return out.toByteArray();
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }
}

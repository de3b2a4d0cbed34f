// A partner's client on the JDK's own XML-DSig (JSR 105), no external jars: it signs SOAP requests the
// way Apache WSS4J/CXF do by default and verifies the hub's answers with the hub's certificate.
//
//   java PartnerClient.java sign   <unsigned.xml> <key.pk8.der> <cert.pem> <signed.xml>
//   java PartnerClient.java verify <answer.xml> <hub.pem>
//   java PartnerClient.java post   <url> <signed.xml> <hub.pem> [<answer.xml>]  (and verifies the answer)
//   java PartnerClient.java post-default ...                    (the same with the JDK's default HTTP/2)
//   java PartnerClient.java serve  (reads one command per line, its arguments tab-separated)
//
// Each command prints one JSON line. `serve` exists because starting a JVM costs a second or so, and
// the tests sign and verify a dozen messages per case.

import java.io.*;
import java.net.URI;
import java.net.http.*;
import java.nio.file.*;
import java.security.*;
import java.security.cert.*;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.*;
import java.time.format.DateTimeFormatter;
import java.util.*;
import javax.xml.crypto.KeySelector;
import javax.xml.crypto.dom.DOMStructure;
import javax.xml.crypto.dsig.*;
import javax.xml.crypto.dsig.dom.*;
import javax.xml.crypto.dsig.keyinfo.KeyInfo;
import javax.xml.crypto.dsig.spec.ExcC14NParameterSpec;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import org.w3c.dom.*;

public class PartnerClient {
    static final String SOAP = "http://schemas.xmlsoap.org/soap/envelope/";
    static final String WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
    static final String WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
    static final String VH = "urn:lv:welfare-hub:viss-header:v1";
    static final String XMLNS = "http://www.w3.org/2000/xmlns/";
    static final String X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3";
    static final String BASE64 =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";
    static final XMLSignatureFactory DSIG = XMLSignatureFactory.getInstance("DOM");

    public static void main(String[] args) throws Exception {
        if (args.length == 1 && args[0].equals("serve")) {
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
            for (String line; (line = in.readLine()) != null && !line.isEmpty(); ) {
                System.out.println(run(line.split("\t")));
                System.out.flush();
            }
        } else {
            String result = run(args);
            System.out.println(result);
            System.exit(result.startsWith("{\"error\"") ? 2 : 0);
        }
    }

    static String run(String[] a) {
        try {
            switch (a[0]) {
                case "sign":
                    Files.write(Path.of(a[4]), sign(Files.readAllBytes(Path.of(a[1])), Path.of(a[2]), Path.of(a[3])));
                    return "{\"signed\":" + quote(a[4]) + "}";
                case "verify":
                    return verify(Files.readAllBytes(Path.of(a[1])), certificate(Path.of(a[2])), "");
                case "post":
                case "post-default":
                    // The JDK's default (HTTP/2) offers an h2c upgrade on a plain http:// URL; "post" asks
                    // for HTTP/1.1 as CXF's own conduit speaks it, "post-default" keeps the JDK's choice.
                    HttpClient client = a[0].equals("post")
                        ? HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()
                        : HttpClient.newHttpClient();
                    HttpResponse<byte[]> response = client.send(
                        HttpRequest.newBuilder(URI.create(a[1]))
                            .header("Content-Type", "text/xml; charset=utf-8")
                            .timeout(Duration.ofSeconds(30))
                            .POST(HttpRequest.BodyPublishers.ofFile(Path.of(a[2])))
                            .build(),
                        HttpResponse.BodyHandlers.ofByteArray());
                    if (a.length > 4) Files.write(Path.of(a[4]), response.body());
                    return verify(response.body(), certificate(Path.of(a[3])), "\"status\":" + response.statusCode() + ",");
                default:
                    return "{\"error\":" + quote("unknown command " + a[0]) + "}";
            }
        } catch (Exception e) {
            return "{\"error\":" + quote(e.toString()) + "}";
        }
    }

    static byte[] sign(byte[] unsigned, Path keyFile, Path certFile) throws Exception {
        X509Certificate cert = certificate(certFile);
        String algorithm = cert.getPublicKey().getAlgorithm(); // "RSA" or "EC"
        PrivateKey key = KeyFactory.getInstance(algorithm)
            .generatePrivate(new PKCS8EncodedKeySpec(Files.readAllBytes(keyFile)));
        Document doc = parse(unsigned);
        Element envelope = doc.getDocumentElement();
        Element header = child(envelope, SOAP, "Header"), body = child(envelope, SOAP, "Body");
        Element messageHeader = child(header, VH, "MessageHeader");

        // WSS4J's Security header: mustUnderstand, the certificate as a BinarySecurityToken, a Timestamp.
        Element security = doc.createElementNS(WSSE, "wsse:Security");
        security.setAttributeNS(XMLNS, "xmlns:wsse", WSSE);
        security.setAttributeNS(XMLNS, "xmlns:wsu", WSU);
        security.setAttributeNS(SOAP, envelope.getPrefix() + ":mustUnderstand", "1");
        header.insertBefore(security, header.getFirstChild());
        Element token = append(security, WSSE, "wsse:BinarySecurityToken");
        token.setAttributeNS(null, "EncodingType", BASE64);
        token.setAttributeNS(null, "ValueType", X509V3);
        token.setAttributeNS(WSU, "wsu:Id", "X509-" + UUID.randomUUID());
        token.setTextContent(Base64.getEncoder().encodeToString(cert.getEncoded()));
        Element timestamp = append(security, WSU, "wsu:Timestamp");
        Instant now = Instant.now();
        DateTimeFormatter stamp = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);
        append(timestamp, WSU, "wsu:Created").setTextContent(stamp.format(now));
        append(timestamp, WSU, "wsu:Expires").setTextContent(stamp.format(now.plusSeconds(300)));

        // CXF writes the Signature before the Timestamp it signs: so here too, not last in the header.
        // WSS4J names the prefixes; with setDefaultNamespacePrefix("ds") the JDK would bind "ds" to the
        // exc-c14n namespace too, on each InclusiveNamespaces.
        DOMSignContext context = new DOMSignContext(key, security, timestamp);
        context.putNamespacePrefix(XMLSignature.XMLNS, "ds");
        context.putNamespacePrefix(CanonicalizationMethod.EXCLUSIVE, "ec");
        // The JDK resolves "#id" only through attributes registered as IDs; wsu:Id is not one by itself.
        // Body and MessageHeader declare wsu themselves, as WSS4J writes them, so the declaration is in
        // the DOM that C14N reads rather than left to the serializer's namespace fixup.
        List<Reference> references = new ArrayList<>();
        for (Element element : List.of(timestamp, messageHeader, body)) {
            if (element != timestamp) element.setAttributeNS(XMLNS, "xmlns:wsu", WSU);
            String id = (element == timestamp ? "TS-" : "id-") + UUID.randomUUID();
            element.setAttributeNS(WSU, "wsu:Id", id);
            context.setIdAttributeNS(element, WSU, "Id");
            List<String> prefixes = inclusivePrefixes(element);
            Transform c14n = DSIG.newTransform(
                CanonicalizationMethod.EXCLUSIVE, prefixes.isEmpty() ? null : new ExcC14NParameterSpec(prefixes));
            references.add(DSIG.newReference(
                "#" + id, DSIG.newDigestMethod(DigestMethod.SHA256, null), List.of(c14n), null, null));
        }
        SignedInfo signedInfo = DSIG.newSignedInfo(
            DSIG.newCanonicalizationMethod(CanonicalizationMethod.EXCLUSIVE, new ExcC14NParameterSpec(List.of("soap", "wsse"))),
            DSIG.newSignatureMethod(algorithm.equals("EC") ? SignatureMethod.ECDSA_SHA256 : SignatureMethod.RSA_SHA256, null),
            references);

        // KeyInfo names the token through a SecurityTokenReference, which JSR 105 has no type for.
        Element str = doc.createElementNS(WSSE, "wsse:SecurityTokenReference");
        Element reference = append(str, WSSE, "wsse:Reference");
        reference.setAttributeNS(null, "URI", "#" + token.getAttributeNS(WSU, "Id"));
        reference.setAttributeNS(null, "ValueType", X509V3);
        KeyInfo keyInfo = DSIG.getKeyInfoFactory().newKeyInfo(List.of(new DOMStructure(str)), "KI-" + UUID.randomUUID());
        DSIG.newXMLSignature(signedInfo, keyInfo, null, "SIG-" + UUID.randomUUID(), null).sign(context);
        return serialize(doc);
    }

    // WSS4J's InclusiveNamespaces for a reference: the prefixes declared on the element's ancestors,
    // less those the element uses itself (exclusive C14N renders those anyway).
    static List<String> inclusivePrefixes(Element element) {
        Set<String> prefixes = new LinkedHashSet<>();
        for (Node n = element.getParentNode(); n instanceof Element; n = n.getParentNode()) {
            NamedNodeMap attributes = n.getAttributes();
            for (int i = 0; i < attributes.getLength(); i++) {
                Node attribute = attributes.item(i);
                if (XMLNS.equals(attribute.getNamespaceURI()))
                    prefixes.add(attribute.getPrefix() == null ? "#default" : attribute.getLocalName());
            }
        }
        prefixes.remove(element.getPrefix() == null ? "#default" : element.getPrefix());
        NamedNodeMap attributes = element.getAttributes();
        for (int i = 0; i < attributes.getLength(); i++) prefixes.remove(attributes.item(i).getPrefix());
        return new ArrayList<>(prefixes);
    }

    // Valid only when the hub's key (not whatever KeyInfo says) verifies SignedInfo and every digest,
    // and the Body is among what the signature covers.
    static String verify(byte[] answer, X509Certificate hubCert, String prefix) throws Exception {
        Document doc = parse(answer);
        Element envelope = doc.getDocumentElement();
        Element body = child(envelope, SOAP, "Body");
        NodeList signatures = doc.getElementsByTagNameNS(XMLSignature.XMLNS, "Signature");
        if (signatures.getLength() != 1) return "{" + prefix + "\"valid\":false,\"reason\":\"not one Signature\"}";
        DOMValidateContext context = new DOMValidateContext(KeySelector.singletonKeySelector(hubCert.getPublicKey()), signatures.item(0));
        context.setProperty("org.jcp.xml.dsig.secureValidation", Boolean.TRUE);
        NodeList all = doc.getElementsByTagNameNS("*", "*");
        for (int i = 0; i < all.getLength(); i++) {
            Element e = (Element) all.item(i);
            if (e.hasAttributeNS(WSU, "Id")) context.setIdAttributeNS(e, WSU, "Id");
        }
        XMLSignature signature = DSIG.unmarshalXMLSignature(context);
        boolean core = signature.validate(context);
        List<String> uris = new ArrayList<>();
        for (Object r : signature.getSignedInfo().getReferences()) uris.add(quote(((Reference) r).getURI()));
        boolean bodySigned = uris.contains(quote("#" + body.getAttributeNS(WSU, "Id")));
        Element content = firstElement(body);
        return "{" + prefix + "\"valid\":" + (core && bodySigned) + ",\"core\":" + core + ",\"bodySigned\":" + bodySigned
            + ",\"references\":" + uris + ",\"body\":" + quote(content == null ? "" : content.getLocalName()) + "}";
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

    static X509Certificate certificate(Path pem) throws Exception {
        try (InputStream in = Files.newInputStream(pem)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    static Element child(Element parent, String ns, String name) {
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling())
            if (n instanceof Element && ns.equals(n.getNamespaceURI()) && name.equals(n.getLocalName())) return (Element) n;
        throw new IllegalArgumentException("no " + name + " in " + parent.getLocalName());
    }

    static Element firstElement(Element parent) {
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) if (n instanceof Element) return (Element) n;
        return null;
    }

    static Element append(Element parent, String ns, String qualifiedName) {
        return (Element) parent.appendChild(parent.getOwnerDocument().createElementNS(ns, qualifiedName));
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

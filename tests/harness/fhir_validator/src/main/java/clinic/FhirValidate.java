package clinic;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.DefaultProfileValidationSupport;
import ca.uhn.fhir.validation.FhirValidator;
import ca.uhn.fhir.validation.ResultSeverityEnum;
import ca.uhn.fhir.validation.SingleValidationMessage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.hl7.fhir.common.hapi.validation.support.CommonCodeSystemsTerminologyService;
import org.hl7.fhir.common.hapi.validation.support.InMemoryTerminologyServerValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.SnapshotGeneratingValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.ValidationSupportChain;
import org.hl7.fhir.common.hapi.validation.validator.FhirInstanceValidator;
import org.hl7.fhir.utilities.http.ManagedWebAccess;
import org.hl7.fhir.utilities.settings.FhirSettings;

/**
 * Validates FHIR R4 JSON resources with HAPI FHIR's instance validator, offline.
 *
 * <p>Usage: java -jar fhir-validate.jar FILE... where a FILE is one JSON resource (e.g. a
 * Bundle), or, if its name ends in .ndjson, one resource per line. Prints one JSON document:
 * {"files": [{"file", "resource", "issues": [{"severity", "location", "message", "messageId",
 * "line", "column"}]}]}. Exit code 0: no error or fatal issue; 1: some; 2: usage or I/O error.
 */
public final class FhirValidate {
  public static void main(String[] args) {
    if (args.length == 0) {
      System.err.println("usage: java -jar fhir-validate.jar FILE.json|FILE.ndjson...");
      System.exit(2);
    }
    // No network at all: no terminology server, no package registry.
    FhirSettings.setProhibitNetworkAccess(true);
    ManagedWebAccess.setAccessPolicy(ManagedWebAccess.WebAccessPolicy.PROHIBITED);

    List<String[]> inputs = new ArrayList<>(); // {file, index, resource text}
    for (String name : args) {
      String text;
      try {
        text = Files.readString(Path.of(name), StandardCharsets.UTF_8);
      } catch (IOException | RuntimeException e) {
        System.err.println("cannot read " + name + ": " + e);
        System.exit(2);
        return;
      }
      if (name.endsWith(".ndjson")) {
        int index = 0;
        for (String line : text.split("\r?\n")) {
          if (!line.isBlank()) inputs.add(new String[] {name, Integer.toString(index++), line});
        }
      } else {
        inputs.add(new String[] {name, "0", text});
      }
    }

    FhirContext context = FhirContext.forR4();
    ValidationSupportChain chain = new ValidationSupportChain(
        new DefaultProfileValidationSupport(context),
        new CommonCodeSystemsTerminologyService(context),
        new InMemoryTerminologyServerValidationSupport(context),
        new SnapshotGeneratingValidationSupport(context));
    FhirInstanceValidator module = new FhirInstanceValidator(chain);
    module.setNoTerminologyChecks(false); // terminology is checked, but only in memory
    FhirValidator validator = context.newValidator().registerValidatorModule(module);

    boolean failed = false;
    StringBuilder out = new StringBuilder("{\"files\": [");
    for (int i = 0; i < inputs.size(); i++) {
      String[] input = inputs.get(i);
      out.append(i == 0 ? "\n" : ",\n").append("{\"file\": ").append(quote(input[0]))
          .append(", \"resource\": ").append(input[1]).append(", \"issues\": [");
      List<SingleValidationMessage> messages;
      try {
        messages = validator.validateWithResult(input[2]).getMessages();
      } catch (RuntimeException e) { // e.g. not JSON at all: one fatal issue
        SingleValidationMessage m = new SingleValidationMessage();
        m.setSeverity(ResultSeverityEnum.FATAL);
        m.setLocationString("(parse)");
        m.setMessage(e.toString());
        messages = List.of(m);
      }
      for (int j = 0; j < messages.size(); j++) {
        SingleValidationMessage m = messages.get(j);
        String severity = m.getSeverity().getCode();
        failed |= severity.equals("error") || severity.equals("fatal");
        out.append(j == 0 ? "\n  " : ",\n  ").append("{\"severity\": ").append(quote(severity))
            .append(", \"location\": ").append(quote(m.getLocationString()))
            .append(", \"message\": ").append(quote(m.getMessage()))
            .append(", \"messageId\": ").append(quote(m.getMessageId()))
            .append(", \"line\": ").append(m.getLocationLine())
            .append(", \"column\": ").append(m.getLocationCol()).append('}');
      }
      out.append("]}");
    }
    out.append("\n]}\n");
    System.out.print(out);
    System.out.flush();
    System.exit(failed ? 1 : 0);
  }

  private static String quote(String text) {
    if (text == null) return "null";
    StringBuilder quoted = new StringBuilder("\"");
    for (char c : text.toCharArray()) {
      switch (c) {
        case '"' -> quoted.append("\\\"");
        case '\\' -> quoted.append("\\\\");
        case '\n' -> quoted.append("\\n");
        case '\r' -> quoted.append("\\r");
        case '\t' -> quoted.append("\\t");
        default -> {
          if (c < 0x20) quoted.append(String.format("\\u%04x", (int) c));
          else quoted.append(c);
        }
      }
    }
    return quoted.append('"').toString();
  }
}
